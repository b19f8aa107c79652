'use strict';

// supertest against an rs-net http server (supertest makes it listen on an
// ephemeral port itself), compared with a Node http server.

const request = require('supertest');
const express = require('express');
const { MODULES } = require('./fixtures/http-util');

function app() {
  const application = express();
  application.get('/hello', (req, res) => res.set('x-hello', 'world').json({ hello: req.query.name }));
  return application;
}

test('supertest: same results against Node http and rs-net/http servers', async () => {
  const seen = {};
  for (const [name, http] of MODULES) {
    const server = http.createServer(app());
    const response = await request(server).get('/hello?name=rs').expect(200).expect('x-hello', 'world');
    seen[name] = { status: response.status, body: response.body, type: response.type };
    expect(server.listening).toBe(false);
  }
  expect(seen.rs).toEqual(seen.node);
  expect(seen.rs.body).toEqual({ hello: 'rs' });
});
