'use strict';

// require('rs-net/http'): see lib/http.js.
module.exports = require('./lib/http');
