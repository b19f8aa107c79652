'use strict';

// One HTTP scenario on Node's http and on rs-net/http, compared: responses
// (status, headers, body), which connections stay open, when 'close' fires,
// timeouts, limits and the server's own http events.

const nodeHttp = require('http');
const { isNativeError } = require('util').types;

const { tcpOptions } = require('./helpers/conn-sockopt');
const { expectHttpParity, get, listen, rawClient, responses, shut, sleep } = require('./fixtures/http-util');

const GET = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';
const headersEnd = (text) => text.includes('\r\n\r\n');

function echo(req, res) {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    res.setHeader('x-method', req.method);
    res.end(`${req.method} ${req.url} ${Buffer.concat(chunks).length}`);
  });
}

test('requests and responses: status, headers, body, keep-alive, socket options', async () => {
  await expectHttpParity(async (http, observe) => {
    const server = http.createServer((req, res) => {
      const opts = tcpOptions(req.socket._handle.fd);
      res.setHeader('x-nodelay', String(opts.TCP_NODELAY !== 0));
      res.setHeader('x-keepalive', String(opts.SO_KEEPALIVE !== 0));
      echo(req, res);
    });
    const port = await listen(server);
    observe('listening', [server.listening, typeof server.address().port]);
    observe('get', await get(port, { path: '/a?b' }));
    observe('post', await get(port, { method: 'POST', path: '/p', body: 'x'.repeat(100000) }));
    await shut(server);

    const tuned = http.createServer({ noDelay: false, keepAlive: true }, echo);
    tuned.prependListener('request', (req, res) => {
      const opts = tcpOptions(req.socket._handle.fd);
      res.setHeader('x-nodelay', String(opts.TCP_NODELAY !== 0));
      res.setHeader('x-keepalive', String(opts.SO_KEEPALIVE !== 0));
    });
    observe('tuned', await get(await listen(tuned)));
    await shut(tuned);
  });
});

test('close(): idle keep-alive connections are closed, a request in flight finishes, then close', async () => {
  await expectHttpParity(async (http, observe) => {
    let release;
    const server = http.createServer((req, res) => {
      if (req.url === '/slow') release = () => res.end('slow');
      else res.end('fast');
    });
    // After its response, the connection that was busy is idle until this.
    server.keepAliveTimeout = 300;
    const port = await listen(server);
    const idle = await rawClient(port);
    idle.send(GET);
    await idle.read((t) => t.endsWith('fast'));
    const busy = await rawClient(port);
    busy.send('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((resolve) => {
      const wait = () => (release ? resolve() : setTimeout(wait, 5));
      wait();
    });
    let closed = false;
    const onClose = new Promise((resolve) =>
      server.close((err) => {
        closed = true;
        resolve(err);
      }),
    );
    observe('after close()', { listening: server.listening, address: server.address() });
    await idle.ended;
    observe('idle ended', { serverClosed: closed });
    await sleep(50);
    observe('busy still open', { ended: busy.isEnded(), serverClosed: closed });
    release();
    const text = await busy.read((t) => t.endsWith('slow'));
    observe(
      'busy response',
      text.split('\r\n').filter((l) => !l.startsWith('Date')),
    );
    await busy.ended;
    observe('close callback', await onClose);
  });
});

test('closeAllConnections() and closeIdleConnections()', async () => {
  await expectHttpParity(async (http, observe) => {
    const held = [];
    const server = http.createServer((req, res) => {
      if (req.url === '/hold') held.push(res);
      else res.end('ok');
    });
    const port = await listen(server);
    const idle = await rawClient(port);
    idle.send(GET);
    await idle.read((t) => t.endsWith('ok'));
    const busy = await rawClient(port);
    busy.send('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
    while (held.length === 0) await sleep(5);
    server.closeIdleConnections();
    await idle.ended;
    await sleep(50);
    observe('after closeIdleConnections', { idle: idle.isEnded(), busy: busy.isEnded() });
    server.closeAllConnections();
    await busy.ended;
    observe('after closeAllConnections', { busy: busy.isEnded(), listening: server.listening });
    await new Promise((resolve) =>
      server.getConnections((err, n) => resolve(observe('connections', [err, n]))),
    );
    await shut(server);
  });
});

test('headersTimeout and requestTimeout are enforced (408)', async () => {
  await expectHttpParity(async (http, observe) => {
    const server = http.createServer(
      { headersTimeout: 300, requestTimeout: 600, connectionsCheckingInterval: 50 },
      echo,
    );
    const port = await listen(server);
    const slowHeaders = await rawClient(port);
    slowHeaders.send('GET / HTTP/1.1\r\nHost: x\r\n');
    const headersText = await slowHeaders.read(() => false);
    observe('headers timeout', headersText.split('\r\n')[0]);

    const slowBody = await rawClient(port);
    slowBody.send('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc');
    const bodyText = await slowBody.read(() => false);
    observe('request timeout', bodyText.split('\r\n')[0]);
    await shut(server);
  });
});

test('keepAliveTimeout closes an idle connection; Keep-Alive header', async () => {
  await expectHttpParity(async (http, observe) => {
    const server = http.createServer(echo);
    server.keepAliveTimeout = 200;
    const port = await listen(server);
    const client = await rawClient(port);
    client.send(GET);
    const text = await client.read((t) => t.endsWith('GET / 0'));
    observe('keep-alive', text.match(/^Keep-Alive: .*$/im)?.[0]);
    await client.ended;
    observe('ended by server', client.isEnded());
    await shut(server);
  });
});

test('server.timeout / setTimeout: the "timeout" event', async () => {
  await expectHttpParity(async (http, observe) => {
    const server = http.createServer(() => {});
    observe('default timeout', server.timeout);
    server.setTimeout(200, (socket) => {
      observe('timeout', typeof socket.destroy);
      socket.destroy();
    });
    const port = await listen(server);
    const client = await rawClient(port);
    client.send(GET);
    await client.ended;
    observe('ended', client.isEnded());
    await shut(server);
  });
});

test('maxHeadersCount, maxRequestsPerSocket and pipelining', async () => {
  await expectHttpParity(async (http, observe) => {
    const server = http.createServer((req, res) => res.end(`${req.url} ${req.rawHeaders.length / 2}`));
    server.maxHeadersCount = 2;
    server.maxRequestsPerSocket = 2;
    server.keepAliveTimeout = 300;
    const port = await listen(server);
    const client = await rawClient(port);
    client.send(
      'GET /1 HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n' +
        'GET /2 HTTP/1.1\r\nHost: x\r\n\r\n' +
        'GET /3 HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    const text = await client.read(() => false);
    observe(
      'responses',
      text.split('\r\n').filter((line) => !line.startsWith('Date')),
    );
    observe('count', responses(text));

    const pipelined = http.createServer((req, res) => res.end(req.url));
    const port2 = await listen(pipelined);
    const client2 = await rawClient(port2);
    client2.send(['/a', '/b', '/c', '/d'].map((p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`).join(''));
    const text2 = await client2.read((t) => t.endsWith('/d'));
    observe('pipelined', text2.match(/\/[a-d]$/gm));
    await shut(server);
    await shut(pipelined);
  });
});

test("maxConnections and 'drop'", async () => {
  await expectHttpParity(async (http, observe) => {
    const server = http.createServer(echo);
    server.maxConnections = 1;
    server.on('drop', (data) => observe('drop', Object.keys(data).sort()));
    const port = await listen(server);
    const first = await rawClient(port);
    first.send(GET);
    await first.read((t) => t.endsWith('GET / 0'));
    const second = await rawClient(port);
    await second.ended;
    observe('second', { ended: second.isEnded(), text: second.text() });
    await shut(server);
  });
});

test("'upgrade', 'connect', 'checkContinue', 'clientError'", async () => {
  await expectHttpParity(async (http, observe) => {
    const server = http.createServer(echo);
    server.on('upgrade', (req, socket, head) => {
      observe('upgrade', [req.headers.upgrade, head.toString()]);
      socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\nhello');
    });
    server.on('connect', (req, socket) => {
      observe('connect', req.url);
      socket.end('HTTP/1.1 200 Connection Established\r\n\r\n');
    });
    server.on('checkContinue', (req, res) => {
      observe('checkContinue', req.headers.expect);
      res.writeContinue();
      echo(req, res);
    });
    server.on('clientError', (err, socket) => {
      observe('clientError', err.code);
      socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    });
    const port = await listen(server);
    const lines = (text) => text.split('\r\n').filter((line) => !line.startsWith('Date'));

    const up = await rawClient(port);
    up.send('GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\nhead');
    observe('upgrade response', lines(await up.read(() => false)));

    const tunnel = await rawClient(port);
    tunnel.send('CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n');
    observe('connect response', lines(await tunnel.read(() => false)));

    const cont = await rawClient(port);
    cont.send('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n');
    await cont.read((t) => t.includes('100 Continue'));
    cont.send('ok');
    observe('continue response', lines(await cont.read((t) => t.endsWith('POST / 2'))));
    cont.destroy();

    const bad = await rawClient(port);
    bad.send('NOT HTTP\r\n\r\n');
    observe('bad response', lines(await bad.read(() => false)));
    await shut(server);
  });
});

test('http options: requireHostHeader, joinDuplicateHeaders, highWaterMark', async () => {
  await expectHttpParity(async (http, observe) => {
    const handler = (req, res) =>
      res.end(JSON.stringify([req.headers['x-dup'], req.socket.readableHighWaterMark]));
    const strict = http.createServer(handler);
    const loose = http.createServer(
      { requireHostHeader: false, joinDuplicateHeaders: true, highWaterMark: 1024 },
      handler,
    );
    const noHost = 'GET / HTTP/1.1\r\nX-Dup: a\r\nX-Dup: b\r\n\r\n';
    for (const [name, server] of [
      ['default', strict],
      ['options', loose],
    ]) {
      const client = await rawClient(await listen(server));
      client.send(noHost);
      const text = await client.read((t) => /\r\n\r\n.+/s.test(t) && (t.endsWith(']') || t.includes('400')));
      observe(name, [text.split('\r\n')[0], text.slice(text.indexOf('\r\n\r\n') + 4)]);
      client.destroy();
      await shut(server);
    }
  });
});

test('listen errors, close when not running, asyncDispose', async () => {
  await expectHttpParity(async (http, observe) => {
    const first = http.createServer();
    const port = await listen(first);
    const second = http.createServer();
    const err = await new Promise((resolve) => {
      second.once('error', resolve);
      second.listen(port, '127.0.0.1');
    });
    observe('EADDRINUSE', {
      code: err.code,
      syscall: err.syscall,
      isError: isNativeError(err),
      listening: second.listening,
    });
    try {
      first.listen(0);
    } catch (error) {
      observe('listen twice', [error.code, isNativeError(error)]);
    }
    const notRunning = await new Promise((resolve) => second.close(resolve));
    observe('close not running', [notRunning.code, isNativeError(notRunning), notRunning.message]);
    // Node's own symbol: Jest's sandbox may lack Symbol.asyncDispose.
    const asyncDispose = Object.getOwnPropertySymbols(nodeHttp.Server.prototype).find((symbol) =>
      /asyncDispose/.test(symbol.description),
    );
    if (asyncDispose !== undefined) {
      await first[asyncDispose]();
      observe('disposed', [first.listening]);
      const rejected = await first[asyncDispose]().then(
        () => 'resolved',
        (error) => error.code,
      );
      observe('dispose again', rejected);
    } else {
      await shut(first);
    }
  });
});

test('listen forms: a Unix socket, IPv6 loopback, options with a signal, bad arguments', async () => {
  const fs = require('fs');
  const os = require('os');
  const path = require('path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-net-http-'));
  try {
    let n = 0;
    await expectHttpParity(async (http, observe) => {
      const unix = http.createServer((req, res) => res.end(`unix ${req.url}`));
      const socketPath = path.join(dir, `h${n++}.sock`);
      await new Promise((resolve) => unix.listen(socketPath, resolve));
      observe('unix address', unix.address() === socketPath);
      observe('unix', await get(undefined, { socketPath, path: '/u' }));
      await shut(unix);
      observe('unix removed', fs.existsSync(socketPath));

      const v6 = http.createServer((req, res) => res.end(`v6 ${req.socket.remoteFamily}`));
      await new Promise((resolve) => v6.listen({ port: 0, host: '::1' }, resolve));
      observe('v6 address', [v6.address().address, v6.address().family]);
      observe('v6', await get(v6.address().port, { host: '::1' }));
      await shut(v6);

      // listen({ signal }): aborting closes the server, as http's close().
      const aborted = http.createServer((req, res) => res.end('ok'));
      const controller = new AbortController();
      await new Promise((resolve) =>
        aborted.listen({ port: 0, host: '127.0.0.1', signal: controller.signal }, resolve),
      );
      const idle = await rawClient(aborted.address().port);
      idle.send(GET);
      await idle.read((t) => t.endsWith('ok'));
      const closing = new Promise((resolve) => aborted.once('close', resolve));
      controller.abort();
      await idle.ended;
      await closing;
      observe('aborted', { listening: aborted.listening, idleEnded: idle.isEnded() });

      const bad = http.createServer();
      for (const args of [
        [-1],
        [65536],
        [{ port: 'x' }],
        [{}],
        [{ host: 'localhost', port: 0, backlog: 'x' }],
      ]) {
        try {
          bad.listen(...args);
          observe('no throw');
          await new Promise((resolve) => {
            bad.once('listening', resolve);
            bad.once('error', resolve);
          });
          observe('then', bad.listening);
          await shut(bad);
        } catch (error) {
          observe('throws', [error.name, error.code, error.message]);
        }
      }
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
