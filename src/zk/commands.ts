/**
 * The task and event codes that the ZooKeeper handler (bio thread) and ZkClient (main thread) share.
 * Tasks are what the main side asks for; each gets one ack. Events (id 0) are what the worker tells the main
 * side unasked: session changes, watch firings the main side handles itself (the own node), and the finished
 * node changes of the subscriptions (zk/subscriptions.ts), all in the one order they happened.
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
   * Subscribe to a type folder, or resync it: list it with a children watch (an exists watch while it does
   * not exist), read every child with a data watch, and emit the finished changes against the children the
   * bio thread knew (EV_NODE_SET / EV_NODE_DEL / EV_NODE_BAD), then the ack. From then on the bio thread
   * follows the folder by itself. path = the folder, value = the type. Ack: values = the child names listed.
   */
  SUBSCRIBE: 3,
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
  /** Event: a child of a subscribed folder is a good node; upsert it. See node-change.ts for the fields. */
  EV_NODE_SET: 26,
  /** Event: a child of a subscribed folder is gone. path = the child. */
  EV_NODE_DEL: 27,
  /** Event: a child's data is unusable. path = the child, errName = the PeerDataReason, result = why. */
  EV_NODE_BAD: 28,
  /**
   * Event: following a subscribed folder failed (a list or read error other than a missing node); its watches
   * may be gone. path = the folder, errName, result = the error. The main side resyncs it with backoff.
   */
  EV_SUB_FAILED: 29,
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
