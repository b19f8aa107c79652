'use strict';

// Node's own http server test files (test-http-server-* and the keep-alive,
// close, timeout, pipelining and upgrade ones), run with Node's http and
// with rs-net/http standing in for require('http') (and rs-net for
// require('net')): see __test__/helpers/node-tests.js. They are not kept in
// this repository: RSNET_NODE_TESTS names a directory laid out as Node's
// test/ holding them; without it these tests are skipped.
//
// A file that fails with Node's own http on a Node version is listed in
// failsWithNode with the reason (the copies come from various versions of
// Node's repository); its test checks that it still fails with Node's http
// and does not count for rs-net.

const { nodeTestFiles } = require('./helpers/node-tests');

const server = [
  'async-dispose',
  'capture-rejections',
  'clear-timer',
  'client-error',
  'close-all',
  'close-destroy-timeout',
  'close-idle',
  'close-idle-wait-response',
  'connection-list-when-close',
  'connections-checking-leak',
  'consumed-timeout',
  'de-chunked-trailer',
  'delete-parser',
  'destroy-socket-on-client-error',
  'headers-timeout-delayed-headers',
  'headers-timeout-interrupted-headers',
  'headers-timeout-keepalive',
  'headers-timeout-pipelining',
  'incomingmessage-destroy',
  'keep-alive-defaults',
  'keep-alive-max-requests-null',
  'keep-alive-timeout',
  'keepalive-end',
  'keepalive-req-gc',
  'method.query',
  'multiheaders',
  'multiheaders2',
  'multiple-client-error',
  'non-utf8-header',
  'optimize-empty-requests',
  'options-highwatermark',
  'options-incoming-message',
  'options-server-response',
  'reject-chunked-with-content-length',
  'reject-cr-no-lf',
  'request-timeout-delayed-body',
  'request-timeout-delayed-headers',
  'request-timeout-interrupted-body',
  'request-timeout-interrupted-headers',
  'request-timeout-keepalive',
  'request-timeout-pipelining',
  'request-timeout-upgrade',
  'response-standalone',
  'stale-close',
  'timeouts-validation',
  'unconsume',
  'unconsume-consume',
  'write-after-end',
  'write-end-after-end',
].map((name) => `parallel/test-http-server-${name}.js`);

const others = [
  'keep-alive',
  'keep-alive-close-on-header',
  'keep-alive-drop-requests',
  'keep-alive-max-requests',
  'keep-alive-pipeline-max-requests',
  'keep-alive-timeout',
  'keep-alive-timeout-custom',
  'keep-alive-timeout-race-condition',
  'keepalive-client',
  'keepalive-free',
  'keepalive-override',
  'keepalive-request',
  'set-timeout-server',
  'timeout',
  'timeout-overflow',
  'response-close',
  'pipeline-assertionerror-finish',
  'pipeline-flood',
  'pipeline-regr-2639',
  'pipeline-regr-3332',
  'pipeline-regr-3508',
  'pipeline-requests-connection-leak',
  'pipeline-socket-parser-typeerror',
  'upgrade-advertise',
  'upgrade-agent',
  'upgrade-binary',
  'upgrade-client',
  'upgrade-client2',
  'upgrade-server',
  'upgrade-server2',
].map((name) => `parallel/test-http-${name}.js`);

const sequential = [
  'keep-alive-timeout-slow-client-headers',
  'keep-alive-timeout-slow-server',
  'request-timeouts-mixed',
].map((name) => `sequential/test-http-server-${name}.js`);

const all = [20, 22, 24];
const noHost = 'its HTTP/1.1 requests have no Host header: answered 400';

const failsWithNode = {
  'parallel/test-http-keep-alive.js': {
    reason: 'calls agent.requests.hasOwnProperty(): agent.requests has a null prototype',
    on: all,
  },
  'parallel/test-http-pipeline-regr-2639.js': {
    reason: 'expects 10 pipelined HTTP/1.0 requests answered on one connection',
    on: all,
  },
  'parallel/test-http-pipeline-regr-3332.js': { reason: noHost, on: all },
  'parallel/test-http-pipeline-regr-3508.js': {
    reason: `times out: ${noHost}, so its handler, which closes the server, never runs`,
    on: all,
  },
  'parallel/test-http-server-async-dispose.js': {
    reason:
      "expects [Symbol.asyncDispose] named '[Symbol.asyncDispose]' (20, 22) and a second call to resolve (24)",
    on: all,
  },
  'parallel/test-http-server-close-all.js': { reason: noHost, on: all },
  'parallel/test-http-server-headers-timeout-keepalive.js': { reason: noHost, on: all },
  'parallel/test-http-server-headers-timeout-pipelining.js': { reason: noHost, on: all },
  'parallel/test-http-server-optimize-empty-requests.js': {
    reason: 'the optimizeEmptyRequests option is newer',
    on: [20, 22],
  },
  'parallel/test-http-server-reject-chunked-with-content-length.js': {
    reason: 'expects HPE_UNEXPECTED_CONTENT_LENGTH, gets HPE_INVALID_TRANSFER_ENCODING',
    on: all,
  },
  'parallel/test-http-server-request-timeout-keepalive.js': { reason: noHost, on: all },
  'parallel/test-http-server-request-timeout-pipelining.js': { reason: noHost, on: all },
  'parallel/test-http-server-response-standalone.js': {
    reason: "expects a second write() (of an empty chunk) on the response's stream",
    on: [24],
  },
  'parallel/test-http-server-write-after-end.js': {
    reason: "times out: expects an 'error' event for a write after end",
    on: all,
  },
  'parallel/test-http-server-write-end-after-end.js': {
    reason: "times out: expects an 'error' event for an end after end",
    on: all,
  },
  'parallel/test-http-upgrade-agent.js': {
    reason: 'expects res.headers to have a null prototype',
    on: all,
  },
  'parallel/test-http-upgrade-binary.js': {
    reason: 'expects an empty upgrade head (the byte is in it)',
    on: all,
  },
  'parallel/test-http-upgrade-client.js': {
    reason: 'expects res.headers to have a null prototype',
    on: all,
  },
  'parallel/test-http-upgrade-server.js': {
    reason: `times out: ${noHost}, and it waits for the end of a 400 response it does not read`,
    on: all,
  },
};

nodeTestFiles({ modules: 'http', files: [...server, ...others, ...sequential], failsWithNode });

test("the runner's 'rs' mode gives rs-net/http and rs-net/https for require('http') and require('https')", async () => {
  const fs = require('fs');
  const os = require('os');
  const path = require('path');
  const { runNodeTest } = require('./fixtures/node-tests/run');
  const root = path.join(__dirname, '..');
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rsnet-node-test-check-'));
  fs.mkdirSync(path.join(scratch, 'parallel'));
  const file = path.join(scratch, 'parallel', 'test-which-http.js');
  fs.writeFileSync(
    file,
    `'use strict';
const assert = require('assert');
const rs = process.env.RSNET_PRELOAD_NET === 'rs';
const expected = (name) => (rs ? require(${JSON.stringify(root)} + '/' + name + '.js') : require('node:' + name));
for (const name of ['http', 'https']) {
  assert.strictEqual(require(name), expected(name));
  assert.strictEqual(require('node:' + name), expected(name));
}
assert.strictEqual(require('http').Server === require('_http_server').Server, !rs);
assert.ok(require('http').createServer() instanceof require('_http_server').Server);
`,
  );
  try {
    for (const mode of ['node', 'rs']) {
      const { code, output } = await runNodeTest(file, mode);
      expect({ mode, code, output: code === 0 ? '' : output }).toEqual({ mode, code: 0, output: '' });
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
});
