// ES module entry: the same objects as require('rs-net').
import rsnet from './index.js';

export default rsnet;
export const {
  BlockList,
  Server,
  Socket,
  SocketAddress,
  Stream,
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
} = rsnet;
