// ES module entry: the same objects as require('rs-net'). Named exports are
// static, so this lists every name Node 20, 22 and 24's `net` exports; a
// name the running Node lacks is undefined, as `require('rs-net')` has it.
import rsnet from './index.js';

export default rsnet;
export const {
  BlockList,
  BoundSocket,
  Server,
  Socket,
  SocketAddress,
  Stream,
  _createServerHandle,
  _normalizeArgs,
  _setSimultaneousAccepts,
  connect,
  createConnection,
  createServer,
  getDefaultAutoSelectFamily,
  getDefaultAutoSelectFamilyAttemptTimeout,
  isIP,
  isIPv4,
  isIPv6,
  setDefaultAutoSelectFamily,
  setDefaultAutoSelectFamilyAttemptTimeout,
  startWorkers,
} = rsnet;
