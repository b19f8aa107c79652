'use strict';

// examples/http-server.js, run the way a user runs it.

const { spawn } = require('child_process');
const http = require('http');
const path = require('path');
const { connect, waitFor } = require('./helpers/conn-util');

const example = path.join(__dirname, '..', 'examples', 'http-server.js');

function start(args = [], env = {}) {
  const child = spawn(process.execPath, [example, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (chunk) => (output.stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk) => (output.stderr += chunk));
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return {
    child,
    output,
    async address() {
      await waitFor(() => /listening on http:\/\/[^\s]+\//.test(output.stdout), {
        what: `the example to listen (stderr: ${output.stderr})`,
      });
      const url = new URL(/listening on (http:\/\/[^\s]+\/)/.exec(output.stdout)[1]);
      return { host: url.hostname, port: Number(url.port) };
    },
    // Resolves with how the child exited; it must exit by itself.
    async exit(limit = 10000) {
      const timer = setTimeout(() => child.kill('SIGKILL'), limit);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

function get(target, path, agent) {
  return new Promise((resolve, reject) => {
    http
      .get({ ...target, path, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode, headers: res.headers, body: JSON.parse(body) }),
        );
      })
      .on('error', reject);
  });
}

test('serves keep-alive and pipelined requests, and exits by itself on SIGINT', async () => {
  const app = start();
  const target = await app.address();
  expect(target.port).toBeGreaterThan(0);

  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const first = await get(target, '/hello', agent);
  const second = await get(target, '/again?x=1', agent);
  expect(first).toMatchObject({
    status: 200,
    body: { method: 'GET', url: '/hello', bodyLength: 0, remoteAddress: '127.0.0.1' },
  });
  expect(second.body.url).toBe('/again?x=1');
  expect(first.headers.connection).toBe('keep-alive');

  // Pipelined, from a raw client.
  const raw = await connect(target);
  let text = '';
  raw.setEncoding('utf8').on('data', (chunk) => (text += chunk));
  raw.write(
    'GET /p1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /p2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc',
  );
  await waitFor(() => (text.match(/HTTP\/1\.1 200 OK/g) || []).length === 2, { what: 'two responses' });
  expect(text).toContain('"url":"/p1"');
  expect(text).toContain('"method":"POST","url":"/p2","bodyLength":3');
  expect(text.indexOf('/p1')).toBeLessThan(text.indexOf('/p2'));

  // SIGINT with two idle keep-alive connections open: it stops accepting,
  // closes them, and the process ends by itself.
  const rawEnded = new Promise((resolve) => raw.on('close', resolve));
  app.child.kill('SIGINT');
  const { code, signal } = await app.exit();
  await rawEnded;
  agent.destroy();
  expect({ code, signal, stderr: app.output.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
  expect(app.output.stdout).toMatch(/closing\nclosed\n$/);
});

test('takes its port from the command line or PORT', async () => {
  // Find a free port, then hand it to the example both ways.
  const probe = require('net').createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));

  for (const [args, env] of [
    [[String(port)], {}],
    [[], { PORT: String(port) }],
  ]) {
    const app = start(args, env);
    const target = await app.address();
    expect(target.port).toBe(port);
    const response = await get(target, '/port', false);
    expect(response.status).toBe(200);
    app.child.kill('SIGINT');
    expect(await app.exit()).toEqual({ code: 0, signal: null });
  }
});
