// ES module entry of rs-net/https: the same objects as require('rs-net/https').
import https from './https.js';

export default https;
export const { Agent, Server, createServer, get, globalAgent, request } = https;
