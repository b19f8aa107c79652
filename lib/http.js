'use strict';

// rs-net/http: a complete `http`. Server and createServer are rs-net's (an
// http.Server listening through rs-net's accept loop); everything else is
// Node's own http, re-exported as it is (including its getters).

const http = require('http');
const { defineServer } = require('./http-server');

const { Server, createServer } = defineServer(http.Server);

Object.defineProperties(module.exports, Object.getOwnPropertyDescriptors(http));
module.exports.Server = Server;
module.exports.createServer = createServer;
