// Types for rs-net/http, shaped like @types/node's 'http'. An rs-net http
// server is Node's http.Server (listening through rs-net), so Node's own
// declarations describe Server and createServer as they are.
export * from 'node:http';
