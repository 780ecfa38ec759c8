export { type BioRecord, decode, encodedSize, encodeInto, newRecord, tryPushRecord } from './codec.js';
export { ByteRing, type RecordVisitor, type WaitResult } from './ring.js';
