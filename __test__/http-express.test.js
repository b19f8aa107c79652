'use strict';

// Express on rs-net/http: http.createServer(app).listen(...), the same app
// on Node's http and on rs-net's, compared.

const express = require('express');
const { MODULES, get, listen, shut } = require('./fixtures/http-util');

function app() {
  const application = express();
  application.use(express.json());
  application.get('/users/:id', (req, res) => res.json({ id: req.params.id, q: req.query.q }));
  application.post('/echo', (req, res) => res.status(201).json(req.body));
  application.use((req, res) => res.status(404).send('nope'));
  return application;
}

test('Express: same responses on Node http and rs-net/http; close() ends the server', async () => {
  const seen = {};
  for (const [name, http] of MODULES) {
    const server = http.createServer(app());
    const port = await listen(server);
    const strip = ({ status, headers, body }) => ({
      status,
      type: headers['content-type'],
      etag: headers.etag,
      body,
    });
    seen[name] = [
      strip(await get(port, { path: '/users/7?q=x' })),
      strip(
        await get(port, {
          method: 'POST',
          path: '/echo',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ a: [1, 2] }),
        }),
      ),
      strip(await get(port, { path: '/missing' })),
    ];
    expect(server.listening).toBe(true);
    await new Promise((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    expect(server.listening).toBe(false);
  }
  expect(seen.rs).toEqual(seen.node);
  expect(seen.rs[0]).toMatchObject({ status: 200, body: '{"id":"7","q":"x"}' });
});

test('Express: require("rs-net/http") by its package name', async () => {
  const server = require('rs-net/http').createServer(app());
  await listen(server);
  expect(server.address().family).toBe('IPv4');
  await shut(server);
});
