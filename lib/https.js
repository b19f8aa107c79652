'use strict';

// rs-net/https: a complete `https`. Server and createServer are rs-net's (an
// https.Server listening through rs-net's accept loop; TLS runs on Node's
// own sockets, as in Node); everything else is Node's own https.

const https = require('https');
const { defineServer } = require('./http-server');

const { Server, createServer } = defineServer(https.Server);

Object.defineProperties(module.exports, Object.getOwnPropertyDescriptors(https));
module.exports.Server = Server;
module.exports.createServer = createServer;
