'use strict';

// Where Node versions behave differently, rs-net behaves like the one it
// runs on. Every such difference is named here, once, by what it is; the
// rest of lib/ asks for the behaviour, not for a version number. (The
// native side's list is src/node_version.rs.)

const nodeMajor = Number(process.versions.node.split('.')[0]);

const behaviour = Object.freeze({
  /**
   * Any `maxConnections` other than null/undefined is a limit (so 0 refuses
   * every connection); before Node 22 a falsy one (0, NaN, '') was none.
   */
  maxConnectionsZeroIsALimit: nodeMajor >= 22,
  /** Servers take a `blockList` option and refuse the addresses it blocks (Node 22+). */
  serverBlockList: nodeMajor >= 22,
  /**
   * listen() without a host passes the bind flags (ipv6Only, reusePort) on;
   * Node 20 leaves them out there.
   */
  unhostedListenPassesFlags: nodeMajor >= 22,
  /**
   * A host is resolved with `dns.lookup(host, { all: true })` and the first
   * address that is not IPv6 link-local is taken (Node 22+); Node 20 takes
   * the one address `dns.lookup(host)` gives.
   */
  lookupSkipsLinkLocal: nodeMajor >= 22,
});

module.exports = { behaviour, nodeMajor };
