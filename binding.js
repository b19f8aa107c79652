'use strict';

// Loads the native addon that `npm install` built (scripts/build.js).
const path = require('path');

const addon = path.join(__dirname, 'build', 'rs_net.node');
try {
  module.exports = require(addon);
} catch (error) {
  if (error.code === 'MODULE_NOT_FOUND' && error.message.includes(addon)) {
    error.message = `rs-net: the native addon is not built (${addon}). Run \`npm install\` (or \`npm run build\`); it needs cargo.`;
  }
  throw error;
}
