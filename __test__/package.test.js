'use strict';

// The package as users meet it: require('rs-net') is a complete `net`,
// `import` works from ES modules, index.d.ts type-checks code written for
// net.Server, and the npm tarball builds from source when installed.

const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const net = require('net');

const root = path.join(__dirname, '..');
const rsnet = require('..');

describe('require("rs-net")', () => {
  test('exports everything net exports; Server and createServer are its own', () => {
    expect(Object.keys(rsnet).sort()).toEqual(Object.keys(net).sort());
    for (const key of Object.keys(net)) {
      if (key === 'Server' || key === 'createServer') {
        expect(rsnet[key]).not.toBe(net[key]);
      } else {
        expect(rsnet[key]).toBe(net[key]);
      }
    }
    expect(rsnet.createServer()).toBeInstanceOf(rsnet.Server);
  });

  test('Server works with and without new, and with old-style inheritance', () => {
    const util = require('util');
    function Legacy() {
      rsnet.Server.call(this, { allowHalfOpen: true });
    }
    util.inherits(Legacy, rsnet.Server);
    const legacy = new Legacy();
    expect(legacy).toBeInstanceOf(rsnet.Server);
    expect(legacy.allowHalfOpen).toBe(true);
    class Modern extends rsnet.Server {}
    expect(new Modern()).toBeInstanceOf(rsnet.Server);
    expect(rsnet.Server()).toBeInstanceOf(rsnet.Server);
    expect(Object.keys(rsnet.createServer())).toEqual(Object.keys(net.createServer()));
  });
});

test("Server.prototype has the shape of Node's: names, lengths, accessors", () => {
  const describe = (proto) => {
    const shape = {};
    for (const key of Reflect.ownKeys(proto)) {
      const d = Object.getOwnPropertyDescriptor(proto, key);
      shape[String(key)] =
        typeof d.value === 'function'
          ? { name: d.value.name, length: d.value.length, enumerable: d.enumerable }
          : { getter: typeof d.get, setter: typeof d.set, enumerable: d.enumerable };
    }
    return shape;
  };
  const node = describe(net.Server.prototype);
  const rs = describe(rsnet.Server.prototype);
  // Node 24 can transfer a server to a worker; rs-net cannot (README).
  for (const key of Object.keys(node)) if (key.startsWith('Symbol(messaging_')) delete node[key];
  // rs-net's maxConnections accessor (README).
  expect(rs.maxConnections).toEqual({ getter: 'function', setter: 'function', enumerable: false });
  delete rs.maxConnections;
  expect(rs).toEqual(node);
  expect([rsnet.Server.name, rsnet.Server.length, rsnet.createServer.length]).toEqual([
    net.Server.name,
    net.Server.length,
    net.createServer.length,
  ]);
});

test('ES modules can import named exports and the default', () => {
  const source = `
    import { createServer, Server, Socket, isIP } from 'rs-net';
    import rsnet from 'rs-net';
    import { createRequire } from 'module';
    const cjs = createRequire(import.meta.url)('rs-net');
    const server = createServer((socket) => socket.end());
    server.listen(0, '127.0.0.1', () => {
      console.log(JSON.stringify({
        same: Server === cjs.Server && rsnet === cjs && Socket === cjs.Socket,
        instance: server instanceof Server,
        isIP: isIP('::1'),
      }));
      server.close();
    });`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', source], {
    cwd: root,
    encoding: 'utf8',
  });
  expect(JSON.parse(out)).toEqual({ same: true, instance: true, isIP: 6 });
});

test("every name the running Node's net exports can be imported by name", () => {
  const names = Object.keys(net);
  const source = `
    import * as rsnet from 'rs-net';
    console.log(JSON.stringify(${JSON.stringify(names)}.filter((name) => !(name in rsnet))));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', source], {
    cwd: root,
    encoding: 'utf8',
  });
  expect(JSON.parse(out)).toEqual([]);
});

describe('index.d.ts', () => {
  const tsc = require.resolve('typescript/bin/tsc');

  test('code written against net.Server compiles against rs-net', () => {
    const result = spawnSync(process.execPath, [tsc, '-p', path.join(__dirname, 'types', 'tsconfig.json')], {
      encoding: 'utf8',
    });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  test('misuse is rejected', () => {
    const result = spawnSync(
      process.execPath,
      [tsc, '-p', path.join(__dirname, 'types', 'tsconfig.rejects.json')],
      { encoding: 'utf8' },
    );
    expect(result.status).not.toBe(0);
    const errors = result.stdout.split('\n').filter((line) => line.includes('error TS'));
    expect(errors.map((line) => line.match(/rejects\.ts\((\d+),/)[1])).toEqual(['4', '5', '6', '7']);
  });
});

// Builds the tarball's own sources with cargo, as `npm install` does for a
// user (from scratch, in a temporary target directory it then removes).
test('the npm tarball installs into another project and builds from source', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-net-pack-'));
  try {
    const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', work], {
      cwd: root,
      encoding: 'utf8',
    }).trim();
    const tarball = path.join(work, packed.split('\n').pop());
    const project = path.join(work, 'project');
    fs.mkdirSync(project);
    fs.writeFileSync(
      path.join(project, 'package.json'),
      JSON.stringify({ name: 'user-project', private: true }),
    );
    const env = { ...process.env, CARGO_TARGET_DIR: path.join(root, 'target') };
    execFileSync('npm', ['install', '--no-audit', '--no-fund', tarball], {
      cwd: project,
      env,
      stdio: 'pipe',
    });
    const check = `
      const net = require('rs-net');
      const server = net.createServer((s) => s.end('ok'));
      server.listen(0, '127.0.0.1', () => {
        require('net').connect(server.address().port, '127.0.0.1').on('data', (d) => {
          console.log(String(d));
          server.close();
        });
      });`;
    const out = execFileSync(process.execPath, ['-e', check], { cwd: project, encoding: 'utf8' });
    expect(out.trim()).toBe('ok');
    const installed = path.join(project, 'node_modules', 'rs-net');
    expect(fs.existsSync(path.join(installed, 'build', 'rs_net.node'))).toBe(true);
    // cargo's build files were not left in the user's node_modules.
    expect(fs.existsSync(path.join(installed, 'target'))).toBe(false);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}, 300000);
