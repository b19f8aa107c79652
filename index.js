'use strict';

// rs-net: require('rs-net') is a complete `net`. Server and createServer are
// rs-net's own (native accept loop on tokio); everything else is Node's own
// net, re-exported as it is (including its lazy getters).
const net = require('net');
const { Server, createServer } = require('./lib/server');
const { startWorkers } = require('./lib/workers');

Object.defineProperties(module.exports, Object.getOwnPropertyDescriptors(net));
module.exports.Server = Server;
module.exports.createServer = createServer;
// rs-net's own: worker threads that serve a listener group.
module.exports.startWorkers = startWorkers;
