// Types for rs-net/https, shaped like @types/node's 'https'. An rs-net https
// server is Node's https.Server (listening through rs-net), so Node's own
// declarations describe Server and createServer as they are.
export * from 'node:https';
