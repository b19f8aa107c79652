// ES module entry of rs-net/http: the same objects as require('rs-net/http').
// Named exports are static, so this lists every name Node 20, 22 and 24's
// `http` exports; a name the running Node lacks is undefined.
import http from './http.js';

export default http;
export const {
  Agent,
  ClientRequest,
  CloseEvent,
  IncomingMessage,
  METHODS,
  MessageEvent,
  OutgoingMessage,
  STATUS_CODES,
  Server,
  ServerResponse,
  WebSocket,
  _connectionListener,
  createServer,
  get,
  globalAgent,
  maxHeaderSize,
  request,
  setGlobalProxyFromEnv,
  setMaxIdleHTTPParsers,
  validateHeaderName,
  validateHeaderValue,
} = http;
