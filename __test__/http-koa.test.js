'use strict';

// Koa on rs-net/http: http.createServer(app.callback()), compared with the
// same app on Node's http.

const Koa = require('koa');
const { MODULES, get, listen, shut } = require('./fixtures/http-util');

function app() {
  const application = new Koa();
  application.use(async (ctx, next) => {
    ctx.set('x-before', '1');
    await next();
  });
  application.use(async (ctx) => {
    if (ctx.path === '/boom') ctx.throw(418, 'teapot');
    ctx.body = { path: ctx.path, method: ctx.method };
  });
  application.on('error', () => {});
  return application;
}

test('Koa: same responses on Node http and rs-net/http', async () => {
  const seen = {};
  for (const [name, http] of MODULES) {
    const server = http.createServer(app().callback());
    const port = await listen(server);
    const strip = ({ status, headers, body }) => ({
      status,
      before: headers['x-before'],
      type: headers['content-type'],
      body,
    });
    seen[name] = [strip(await get(port, { path: '/a' })), strip(await get(port, { path: '/boom' }))];
    await shut(server);
    expect(server.listening).toBe(false);
  }
  expect(seen.rs).toEqual(seen.node);
  expect(seen.rs[1]).toMatchObject({ status: 418, body: 'teapot' });
});
