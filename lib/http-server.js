'use strict';

// What rs-net's http and https servers share: Node's http.Server (or
// https.Server) with rs-net's listen(), _listen2, address() and a close()
// whose errors are built in the caller's realm. Node's constructor runs as
// it is (http options, 'connection' and 'listening' handlers, connection
// tracking for headersTimeout / requestTimeout), and so does Node's close
// (idle keep-alive connections closed, the checking interval stopped,
// then net.Server's close on rs-net's handle, whose own close stops the
// native listener).

const { listen, setupListenHandle } = require('./listen');
const { asyncDisposeSymbol, transferSymbol } = require('./node-internals');
const { Server: rsNetServer, listensThroughRsNet, onceClosed } = require('./server');

const netAddress = rsNetServer.prototype.address;

// close() as a promise of this realm (see lib/server.js).
function closed(server) {
  return new Promise((resolve, reject) => {
    server.close((error, value) => (error ? reject(error) : resolve(value)));
  });
}

/**
 * Makes `Server`, a constructor callable with or without `new`, whose
 * instances are instances of `NodeServer` (Node's http.Server or
 * https.Server) listening through rs-net.
 */
function defineServer(NodeServer) {
  const nodeClose = NodeServer.prototype.close;

  function Server(options, requestListener) {
    if (!(this instanceof Server)) return new Server(options, requestListener);
    Reflect.apply(NodeServer, this, [options, requestListener]);
  }
  Object.setPrototypeOf(Server.prototype, NodeServer.prototype);
  Object.setPrototypeOf(Server, NodeServer);

  listensThroughRsNet(Server.prototype);
  Server.prototype._listen2 = setupListenHandle;
  Server.prototype.listen = listen;
  Server.prototype.address = netAddress;

  Server.prototype.close = function close(cb) {
    onceClosed(this, cb);
    // Node's own: closeIdleConnections(), the connections check stopped,
    // then net.Server's close.
    Reflect.apply(nodeClose, this, []);
    return this;
  };

  // Node 24's move of a listening server to a worker thread: rs-net's
  // listener lets go of the socket first (see lib/server.js).
  if (transferSymbol !== undefined) {
    Server.prototype[transferSymbol] = rsNetServer.prototype[transferSymbol];
  }

  // As Node's http and https servers: rejects when not listening.
  Server.prototype[asyncDisposeSymbol] = async function () {
    await closed(this);
  };

  // Named as Node's are: listen and address are net.Server's (anonymous),
  // close is the running version's http / https one.
  Object.defineProperty(Server.prototype.close, 'name', { value: nodeClose.name });
  Object.defineProperty(Server.prototype[asyncDisposeSymbol], 'name', {
    value: NodeServer.prototype[asyncDisposeSymbol]?.name ?? '',
  });

  function createServer(options, requestListener) {
    return new Server(options, requestListener);
  }

  return { Server, createServer };
}

module.exports = { defineServer };
