export type { HashAlg } from './hash.js';
export { HASH_ALGS, hashKey, hashString } from './hash.js';
export type { NodesSnapshot, SnapshotRow } from './snapshot.js';
export { SNAPSHOT_FORMAT } from './snapshot.js';
export type { ChildrenDiff, HashNode, NodesChange, NodesOptions, NodesStep, UpsertResult } from './table.js';
export { Nodes } from './table.js';
export type { ZkNode, ZkNodeCheck } from './validate.js';
export { MAX_WORKER_CNT, validateZkNode } from './validate.js';
