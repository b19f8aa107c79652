'use strict';

// The major version of the Node running rs-net: where Node versions behave
// differently, rs-net behaves like the one it runs on.
const nodeMajor = Number(process.versions.node.split('.')[0]);

module.exports = { nodeMajor };
