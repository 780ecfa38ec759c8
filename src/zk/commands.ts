/**
 * The task and event codes that the ZooKeeper handler (bio thread) and ZkClient (main thread) share.
 * Tasks are what the main side asks for; each gets one ack. Events (id 0) are what ZooKeeper told the worker:
 * session changes and watch firings, written into the ack stream in the order they happened.
 */
export const Cmd = {
  /** Open a session, retrying with backoff until connected or stopping. Ack: result = session id. */
  CONNECT: 1,
  /**
   * Reconcile the own node, its data, its payload node and its data watch (src/zk/registration.ts).
   * path = own node prefix `{root}/{type}/{server}-{type}`, value = its JSON fields without path and
   * active_time, values = [payload folder, payload JSON, last known own path or '', the sessions of dead
   * bio threads, comma-separated, or '']. Ack: result = the own node's full path, values = what had to be
   * put right (OwnNodeRepair).
   */
  REGISTER: 2,
  /**
   * List a type folder with a children watch. path = the folder. Ack: values = child names, or ZNONODE
   * with an exists watch left on the folder so its creation is seen.
   */
  LIST: 3,
  /**
   * Read children with a data watch each, pipelined. path = the folder, values = child names. One NODE_DATA
   * event per child, in order, then the ack.
   */
  GET_MANY: 4,
  /** path, value: set a node's data (the payload report). */
  SET_DATA: 5,

  /** Event: session state. value = SessionEvent name, result = session id (hex), errName = detail. */
  EV_SESSION: 20,
  /** Event: a watched node was created (a type folder that did not exist). path = the node. */
  EV_CREATED: 21,
  /** Event: a watched node was deleted. */
  EV_DELETED: 22,
  /** Event: a watched node's data changed. */
  EV_DATA_CHANGED: 23,
  /** Event: a watched folder's children changed. */
  EV_CHILDREN_CHANGED: 24,
  /** Event: one child read by GET_MANY. path = the child, value = its data, error = the call's code. */
  EV_NODE_DATA: 25,
} as const;

/** What EV_SESSION's value says. CONNECTING carries the attempt and the last error in errName. */
export type SessionEvent =
  | 'CONNECTING'
  | 'CONNECTED'
  | 'DISCONNECTED'
  /** No word from ZooKeeper for a session timeout: claim nothing; CONNECTED (same session) or EXPIRED follows. */
  | 'LOST'
  | 'EXPIRED'
  | 'AUTH_FAILED'
  | 'CLOSED';
