// The loopback ZooKeeper launcher is product code (`zkbio zk start`, the demo, the benches); tests keep
// importing it from here.
export * from '../../src/cli/zk_server.js';
