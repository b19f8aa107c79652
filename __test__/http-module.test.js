'use strict';

// require('rs-net/http') and require('rs-net/https') as a user sees them:
// complete modules, servers that are Node's http.Server / https.Server and
// listen through rs-net, ES module named imports, types, ref/unref.

const fs = require('fs');
const path = require('path');
const net = require('net');
const nodeHttp = require('http');
const nodeHttps = require('https');
const tls = require('tls');
const { spawnSync } = require('child_process');

const rsHttp = require('rs-net/http');
const rsHttps = require('rs-net/https');
const { hasListener } = require('../lib/listening-handle');
const { runNode } = require('./helpers/conn-util');
const { get, listen, shut } = require('./fixtures/http-util');

const ROOT = path.join(__dirname, '..');
const fixture = (name) => fs.readFileSync(path.join(__dirname, 'fixtures', name));

test.each([
  ['http', nodeHttp, rsHttp],
  ['https', nodeHttps, rsHttps],
])('rs-net/%s exports everything Node exports; only Server and createServer differ', (name, node, rs) => {
  expect(Object.keys(rs).sort()).toEqual(Object.keys(node).sort());
  for (const key of Object.keys(node)) {
    if (key === 'Server' || key === 'createServer') {
      expect(rs[key]).not.toBe(node[key]);
    } else {
      expect(rs[key]).toBe(node[key]);
    }
  }
  expect(require(`../${name}`)).toBe(rs);
  // Methods named as the running Node names its own.
  const { asyncDisposeSymbol } = require('../lib/node-internals');
  for (const key of ['listen', 'address', 'close', asyncDisposeSymbol]) {
    expect(rs.Server.prototype[key].name).toBe(node.Server.prototype[key].name);
  }
});

test('an rs-net http server is an http.Server and a net.Server, made in every way Node allows', () => {
  const byNew = new rsHttp.Server();
  const byCall = rsHttp.Server();
  const byCreate = rsHttp.createServer(() => {});
  for (const server of [byNew, byCall, byCreate]) {
    expect(server).toBeInstanceOf(rsHttp.Server);
    expect(server).toBeInstanceOf(nodeHttp.Server);
    expect(server).toBeInstanceOf(net.Server);
    expect(server.listening).toBe(false);
    expect(server.address()).toBe(null);
  }
  expect(byCreate.listenerCount('request')).toBe(1);

  // Inherited the old way, as http.Server allows.
  function Legacy(options) {
    rsHttp.Server.call(this, options);
  }
  Object.setPrototypeOf(Legacy.prototype, rsHttp.Server.prototype);
  const legacy = new Legacy({ keepAliveTimeout: 1234 });
  expect(legacy).toBeInstanceOf(nodeHttp.Server);
  expect(typeof legacy.closeAllConnections).toBe('function');

  const secure = rsHttps.createServer({ key: fixture('http-a.key'), cert: fixture('http-a.crt') });
  expect(secure).toBeInstanceOf(nodeHttps.Server);
  expect(secure).toBeInstanceOf(tls.Server);
  expect(secure).toBeInstanceOf(net.Server);
  expect(rsHttps.Server()).toBeInstanceOf(rsHttps.Server);

  // They listen through rs-net, so they are rs-net Servers as well; a
  // subclass of rs-net's Server keeps instanceof's usual meaning.
  const rsNet = require('..');
  for (const server of [byNew, byCall, byCreate, legacy, secure]) expect(server).toBeInstanceOf(rsNet.Server);
  expect(new net.Server()).not.toBeInstanceOf(rsNet.Server);
  expect({}).not.toBeInstanceOf(rsNet.Server);
  class Own extends rsNet.Server {}
  expect(new Own()).toBeInstanceOf(Own);
  expect(byCreate).not.toBeInstanceOf(Own);
  expect(() => rsHttp.createServer('bad')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
});

test("rs-net/http listens through rs-net's native listener; Node's http serves", async () => {
  const server = rsHttp.createServer((req, res) => res.end(`${req.socket instanceof net.Socket}`));
  const port = await listen(server);
  expect(hasListener(server._handle)).toBe(true);
  expect(server.listening).toBe(true);
  expect(server.address()).toEqual({ address: '127.0.0.1', family: 'IPv4', port });
  expect(await get(port)).toMatchObject({ status: 200, body: 'true' });
  const closeError = await new Promise((resolve) => server.close(resolve));
  expect(closeError).toBeUndefined();
  const again = await new Promise((resolve) => server.close(resolve));
  expect(again).toBeInstanceOf(Error);
  expect(again.code).toBe('ERR_SERVER_NOT_RUNNING');
});

test('rs-net/https: TLS on Node sockets, SNI with addContext, as Node', async () => {
  const seen = {};
  for (const [name, https] of [
    ['node', nodeHttps],
    ['rs', rsHttps],
  ]) {
    const server = https.createServer(
      { key: fixture('http-a.key'), cert: fixture('http-a.crt') },
      (req, res) => res.end(`${req.socket.servername} ${req.socket.encrypted}`),
    );
    server.addContext('b.test', { key: fixture('http-b.key'), cert: fixture('http-b.crt') });
    const port = await listen(server);
    const results = [];
    for (const servername of ['a.test', 'b.test']) {
      results.push(
        await new Promise((resolve, reject) => {
          const req = nodeHttps.get(
            { host: '127.0.0.1', port, servername, rejectUnauthorized: false, agent: false },
            (res) => {
              let body = '';
              const cn = res.socket.getPeerCertificate().subject.CN;
              res.on('data', (chunk) => (body += chunk));
              res.on('end', () =>
                resolve({ status: res.statusCode, body, cn, alpn: res.socket.alpnProtocol }),
              );
            },
          );
          req.on('error', reject);
        }),
      );
    }
    if (name === 'rs') expect(hasListener(server._handle)).toBe(true);
    seen[name] = results;
    await shut(server);
  }
  expect(seen.rs).toEqual(seen.node);
  expect(seen.rs.map((r) => r.cn)).toEqual(['a.test', 'b.test']);
});

test('ES module named imports', async () => {
  const source = `
    import { createServer, Server, STATUS_CODES, request } from 'rs-net/http';
    import https, { createServer as createSecure, Server as SecureServer } from 'rs-net/https';
    import http from 'rs-net/http';
    import nodeHttp from 'node:http';
    const server = createServer();
    console.log(JSON.stringify([
      server instanceof nodeHttp.Server, server instanceof Server, Server === http.Server,
      STATUS_CODES[404], typeof request, createSecure({}) instanceof SecureServer,
      SecureServer === https.Server,
    ]));`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', source], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 20000,
  });
  expect(result.stderr).toBe('');
  expect(JSON.parse(result.stdout)).toEqual([true, true, true, 'Not Found', 'function', true, true]);
});

test.each(['http', 'https'])(
  "every name the running Node's %s exports is a named export of rs-net's",
  (name) => {
    const source = `
    import * as rs from 'rs-net/${name}';
    import node from 'node:${name}';
    console.log(JSON.stringify(Object.keys(node).filter((key) => !(key in rs) || (rs[key] !== node[key] && key !== 'Server' && key !== 'createServer'))));`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', source], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 20000,
    });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual([]);
  },
);

test('types: code written for Node http/https compiles against rs-net/http and rs-net/https', () => {
  const tsc = require.resolve('typescript/bin/tsc');
  const result = spawnSync(
    process.execPath,
    [tsc, '-p', path.join(__dirname, 'fixtures', 'http-types', 'tsconfig.json')],
    {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60000,
    },
  );
  expect(result.stdout + result.stderr).toBe('');
  expect(result.status).toBe(0);
}, 60000);

test.each(['node', 'rs'])('unref(): a %s http server lets the process exit; ref keeps it', async (which) => {
  const script = path.join(__dirname, 'fixtures', 'http-unref.js');
  const unrefed = await runNode([script, which]);
  expect(unrefed.code).toBe(0);
  expect(unrefed.stdout).toContain('"exit":true');

  // Referenced: still running after its port was reported, until a request closes it.
  const held = await runNode([script, which, 'ref'], {
    onStdout: (text, child) => {
      const match = /"port":(\d+)/.exec(text);
      if (match && !child.asked) {
        child.asked = true;
        setTimeout(
          () =>
            nodeHttp.get({ host: '127.0.0.1', port: Number(match[1]), agent: false }).on('error', () => {}),
          200,
        );
      }
    },
  });
  expect(held.code).toBe(0);
  expect(held.stdout).toContain('"exit":true');
});
