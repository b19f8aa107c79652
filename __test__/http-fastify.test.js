'use strict';

// Fastify on rs-net/http through serverFactory, compared with Fastify on
// Node's http; fastify.close() reaches the listener.

const Fastify = require('fastify');
const { MODULES, get } = require('./fixtures/http-util');

function app(http) {
  const fastify = Fastify({
    serverFactory: (handler) => http.createServer(handler),
    forceCloseConnections: false,
  });
  fastify.get('/items/:id', async (request) => ({ id: request.params.id }));
  fastify.post('/echo', async (request, reply) => reply.code(202).send(request.body));
  return fastify;
}

test('Fastify (serverFactory): same responses; listen() and close() act on the rs-net listener', async () => {
  const seen = {};
  for (const [name, http] of MODULES) {
    const fastify = app(http);
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    expect(fastify.server).toBeInstanceOf(http.Server);
    expect(fastify.server.listening).toBe(true);
    const { port } = fastify.server.address();
    const strip = ({ status, headers, body }) => ({ status, type: headers['content-type'], body });
    seen[name] = [
      strip(await get(port, { path: '/items/3' })),
      strip(
        await get(port, {
          method: 'POST',
          path: '/echo',
          headers: { 'content-type': 'application/json' },
          body: '{"x":1}',
        }),
      ),
      strip(await get(port, { path: '/nothing' })),
      fastify.addresses().map((a) => a.family),
    ];
    await fastify.close();
    expect(fastify.server.listening).toBe(false);
    expect(fastify.server.address()).toBe(null);
  }
  expect(seen.rs).toEqual(seen.node);
  expect(seen.rs[0]).toEqual({ status: 200, type: 'application/json; charset=utf-8', body: '{"id":"3"}' });
});
