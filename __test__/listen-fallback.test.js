'use strict';

// With no host, Node binds '::' (dual-stack) and falls back to '0.0.0.0'
// when that bind fails for any reason but EADDRINUSE. A privileged port
// makes '::' fail for an unprivileged user, which shows the fallback: the
// error names 0.0.0.0, not '::'. Run as the `nobody` user in a child
// process, on both modules.

const { spawnSync } = require('child_process');
const os = require('os');
const path = require('path');

const root = path.join(__dirname, '..');
const runuser = ['/usr/sbin/runuser', '/sbin/runuser'].find((file) => require('fs').existsSync(file));
// Needs root (to run a child as `nobody`), a node binary `nobody` may run
// (npx's copy of another Node version lives in root's home), and port 80 to
// be privileged (containers may lower ip_unprivileged_port_start).
const unprivilegedPortStart = (() => {
  try {
    return Number(require('fs').readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
  } catch {
    return 1024;
  }
})();
const canDropPrivileges =
  unprivilegedPortStart > 80 &&
  process.getuid?.() === 0 &&
  runuser !== undefined &&
  spawnSync(runuser, ['-u', 'nobody', '--', process.execPath, '-e', '0'], { cwd: os.tmpdir() }).status === 0;

function listenAsNobody(moduleName) {
  const script = `
    const net = require(${JSON.stringify(moduleName)});
    const server = net.createServer();
    server.on('error', (e) => {
      console.log(JSON.stringify({ message: e.message, code: e.code, errno: e.errno, syscall: e.syscall, address: e.address, port: e.port, listening: server.listening }));
    });
    server.listen(80, () => { console.log('listening'); server.close(); });
  `;
  const result = spawnSync(runuser, ['-u', 'nobody', '--', process.execPath, '-e', script], {
    cwd: os.tmpdir(),
    encoding: 'utf8',
    timeout: 20000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

(canDropPrivileges ? test : test.skip)(
  "no host: '::' fails, the IPv4 fallback fails too, and the error names 0.0.0.0",
  () => {
    const node = listenAsNobody('net');
    const rs = listenAsNobody(root);
    expect(JSON.parse(node.stdout)).toEqual({
      message: 'listen EACCES: permission denied 0.0.0.0:80',
      code: 'EACCES',
      errno: -13,
      syscall: 'listen',
      address: '0.0.0.0',
      port: 80,
      listening: false,
    });
    expect(rs).toEqual(node);
  },
);
