'use strict';

// The package as users meet it: require('rs-net') is a complete `net`,
// `import` works from ES modules, index.d.ts type-checks code written for
// net.Server, and the release tarballs `npm run package` writes install as a
// user installs them: the prebuilt binary without cargo, or from source.

const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const net = require('net');

const root = path.join(__dirname, '..');
const rsnet = require('..');

describe('require("rs-net")', () => {
  test('exports everything net exports; Server and createServer are its own', () => {
    // startWorkers is rs-net's one addition (worker threads for listener groups).
    expect(Object.keys(rsnet).sort()).toEqual([...Object.keys(net), 'startWorkers'].sort());
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

test("Server is a subclass of Node's, whose prototype methods have Node's names, lengths and kinds", () => {
  expect(Object.getPrototypeOf(rsnet.Server.prototype)).toBe(net.Server.prototype);
  expect(Object.getPrototypeOf(rsnet.Server)).toBe(net.Server);
  expect(rsnet.createServer()).toBeInstanceOf(net.Server);
  class Inherited extends rsnet.Server {}
  expect(new Inherited()).toBeInstanceOf(net.Server);
  // What a property looks like where a lookup on the prototype finds it.
  const found = (proto, key) => {
    for (let object = proto; object !== null; object = Object.getPrototypeOf(object)) {
      const d = Object.getOwnPropertyDescriptor(object, key);
      if (d === undefined) continue;
      return typeof d.value === 'function'
        ? { name: d.value.name, length: d.value.length, enumerable: d.enumerable }
        : { getter: typeof d.get, setter: typeof d.set, enumerable: d.enumerable };
    }
    return undefined;
  };
  const keys = Reflect.ownKeys(net.Server.prototype).filter((key) => key !== 'constructor');
  const node = Object.fromEntries(keys.map((key) => [String(key), found(net.Server.prototype, key)]));
  const rs = Object.fromEntries(keys.map((key) => [String(key), found(rsnet.Server.prototype, key)]));
  expect(rs).toEqual(node);
  // What rs-net redefines, and nothing else.
  expect(Reflect.ownKeys(rsnet.Server.prototype).map(String).sort()).toEqual(
    [
      '_listen2',
      'address',
      'close',
      'constructor',
      'listen',
      String(asyncDisposeKey()),
      ...transferKey(),
    ].sort(),
  );
  expect([rsnet.Server.name, rsnet.Server.length, rsnet.createServer.length]).toEqual([
    net.Server.name,
    net.Server.length,
    net.createServer.length,
  ]);
});

// Node 24's transfer of a server to a worker thread, which rs-net wraps.
function transferKey() {
  return Object.getOwnPropertySymbols(net.Server.prototype)
    .filter((symbol) => symbol.description === 'messaging_transfer_symbol')
    .map(String);
}

function asyncDisposeKey() {
  return Object.getOwnPropertySymbols(net.Server.prototype).find((symbol) =>
    /asyncDispose/.test(String(symbol)),
  );
}

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

// The tarballs of `npm run package`, installed into new projects the way a
// user installs them. Everything lives in one temporary directory, removed
// at the end. npm runs --offline: the tarballs are local files, and the
// platform package is not published, so the optional dependency that cannot
// be fetched must not fail the install.
describe('the release tarballs in dist/ (npm run package)', () => {
  const { version } = require('../package.json');
  const platformPackage = 'rs-net-linux-x64-gnu';
  let work;
  let mainTarball;
  let platformTarball;

  // The environment of a user's shell: nothing of this repository's npm run,
  // and no CARGO_TARGET_DIR or CARGO (the build script chooses where cargo builds).
  function userEnv(extra = {}) {
    const env = {};
    for (const [key, value] of Object.entries(process.env)) {
      if (
        /^(npm_lifecycle_|npm_package_|npm_config_local_prefix$|INIT_CWD$|CARGO$|CARGO_TARGET_DIR$)/.test(key)
      )
        continue;
      env[key] = value;
    }
    return { ...env, ...extra };
  }

  // PATH without any directory that holds cargo (~/.cargo/bin here); node and
  // npm stay reachable.
  function pathWithoutCargo() {
    return process.env.PATH.split(path.delimiter)
      .filter((dir) => dir && !fs.existsSync(path.join(dir, 'cargo')))
      .join(path.delimiter);
  }

  function newProject(name) {
    const project = path.join(work, name);
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name, private: true }));
    return project;
  }

  function npmInstall(project, tarballs, env) {
    const result = spawnSync(
      'npm',
      ['install', '--offline', '--no-audit', '--no-fund', '--foreground-scripts', ...tarballs],
      { cwd: project, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    );
    return { status: result.status, log: `${result.stdout}\n${result.stderr}` };
  }

  // Serves one connection with the installed rs-net; reports the .node files loaded.
  function serveOnce(project, env) {
    const check = `
      const net = require('rs-net');
      const server = net.createServer((s) => s.end('ok'));
      server.listen(0, '127.0.0.1', () => {
        require('net').connect(server.address().port, '127.0.0.1').on('data', (d) => {
          server.close();
          const addons = Object.keys(require.cache).filter((file) => file.endsWith('.node'));
          console.log(JSON.stringify({ reply: String(d), addons }));
        });
      });`;
    return JSON.parse(execFileSync(process.execPath, ['-e', check], { cwd: project, env, encoding: 'utf8' }));
  }

  function filesUnder(directory, prefix = '') {
    return fs
      .readdirSync(directory, { withFileTypes: true })
      .flatMap((entry) =>
        entry.isDirectory()
          ? filesUnder(path.join(directory, entry.name), `${prefix}${entry.name}/`)
          : [`${prefix}${entry.name}`],
      );
  }

  const targetDirs = () => fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith('rs-net-target-'));

  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-net-pack-'));
    execFileSync('npm', ['run', 'package'], { cwd: root, stdio: 'pipe' });
    mainTarball = path.join(root, 'dist', `rs-net-${version}.tgz`);
    platformTarball = path.join(root, 'dist', `${platformPackage}-${version}.tgz`);
  }, 300000);

  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test('the platform package is laid out as napi-rs does, and the main package asks for it', () => {
    const list = (tarball) =>
      execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n').sort();
    expect(list(platformTarball)).toEqual([
      'package/README.md',
      'package/package.json',
      'package/rs-net.linux-x64-gnu.node',
    ]);
    const manifest = (tarball) =>
      JSON.parse(execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }));
    expect(manifest(platformTarball)).toMatchObject({
      name: platformPackage,
      version,
      main: 'rs-net.linux-x64-gnu.node',
      os: ['linux'],
      cpu: ['x64'],
      libc: ['glibc'],
    });
    expect(manifest(mainTarball).optionalDependencies).toEqual({ [platformPackage]: version });
    const main = list(mainTarball);
    expect(main).toContain('package/examples/retry.js');
    expect(main.filter((file) => /\.node$|^package\/(build|target|npm)\//.test(file))).toEqual([]);
  });

  test('main and platform tarballs, no cargo on PATH: the prebuilt binary loads and nothing compiles', () => {
    const env = userEnv({ PATH: pathWithoutCargo() });
    expect(spawnSync('cargo', ['--version'], { env }).error?.code).toBe('ENOENT');
    const project = newProject('prebuilt-user');
    const before = targetDirs();
    const { status, log } = npmInstall(project, [mainTarball, platformTarball], env);
    expect(log).toContain(`rs-net: using the prebuilt binary of ${platformPackage}@${version}`);
    expect(log).not.toContain('building from source');
    expect(status).toBe(0);
    const installed = path.join(project, 'node_modules', 'rs-net');
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);
    expect(fs.existsSync(path.join(installed, 'target'))).toBe(false);
    expect(targetDirs()).toEqual(before);
    const { reply, addons } = serveOnce(project, env);
    expect(reply).toBe('ok');
    expect(addons).toEqual([
      path.join(project, 'node_modules', platformPackage, 'rs-net.linux-x64-gnu.node'),
    ]);
  });

  // The one source build of this file (about a minute on two cores).
  test('main tarball alone, with cargo: builds with --locked in a temporary target directory it removes, leaving only the addon', () => {
    const env = userEnv();
    const project = newProject('source-user');
    const { status, log } = npmInstall(project, [mainTarball], env);
    expect(log).toContain(`no prebuilt binary loads (${platformPackage} is not installed)`);
    const announced = log.match(
      /building from source: cargo build --release --locked in the temporary target directory (\S+) \(removed afterwards\)/,
    );
    expect(announced).not.toBeNull();
    expect(status).toBe(0);
    const target = announced[1];
    expect(path.isAbsolute(target)).toBe(true);
    expect(path.relative(project, target).startsWith('..')).toBe(true);
    expect(log).toContain(`removed ${target}`);
    expect(fs.existsSync(target)).toBe(false);
    // What is installed is the tarball's files plus the addon, nothing else.
    const installed = path.join(project, 'node_modules', 'rs-net');
    const packed = execFileSync('tar', ['-tzf', mainTarball], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((file) => file.replace(/^package\//, ''));
    expect(filesUnder(installed).filter((file) => !packed.includes(file))).toEqual(['build/rs_net.node']);
    const { reply, addons } = serveOnce(project, env);
    expect(reply).toBe('ok');
    expect(addons).toEqual([path.join(installed, 'build', 'rs_net.node')]);
  }, 600000);

  test('a tarball whose Cargo.lock is missing fails to build (--locked) and still removes its target directory', () => {
    const unpacked = path.join(work, 'unlocked');
    fs.mkdirSync(unpacked);
    execFileSync('tar', ['-xzf', mainTarball, '-C', unpacked]);
    fs.rmSync(path.join(unpacked, 'package', 'Cargo.lock'));
    const tarball = path.join(work, 'rs-net-unlocked.tgz');
    execFileSync('tar', ['-czf', tarball, '-C', unpacked, 'package']);
    const project = newProject('unlocked-user');
    const { status, log } = npmInstall(project, [tarball], userEnv());
    expect(status).not.toBe(0);
    expect(log).toContain('--locked was passed');
    const target = log.match(/temporary target directory (\S+) \(removed afterwards\)/)[1];
    expect(fs.existsSync(target)).toBe(false);
  }, 300000);

  test('the not-built error names the command that builds rs-net where it is', () => {
    const unpacked = path.join(work, 'unpacked');
    fs.mkdirSync(unpacked);
    execFileSync('tar', ['-xzf', mainTarball, '-C', unpacked]);
    const places = {
      dependency: path.join(work, 'app', 'node_modules', 'rs-net'),
      clone: path.join(work, 'rs-net-clone'),
    };
    const messages = {};
    for (const [kind, place] of Object.entries(places)) {
      fs.mkdirSync(path.dirname(place), { recursive: true });
      fs.cpSync(path.join(unpacked, 'package'), place, { recursive: true });
      const result = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(place)})`], {
        cwd: work,
        encoding: 'utf8',
      });
      expect(result.status).not.toBe(0);
      messages[kind] = result.stderr.match(/rs-net: no native addon loads.*/)[0];
    }
    expect(messages.dependency).toContain('Run `npm rebuild rs-net` in your project');
    expect(messages.clone).toContain(`Run \`npm install\` in ${places.clone}`);
  });
});
