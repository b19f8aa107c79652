'use strict';

// require('rs-net/https'): see lib/https.js.
module.exports = require('./lib/https');
