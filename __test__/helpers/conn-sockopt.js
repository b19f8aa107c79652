'use strict';

// Reads socket options of a descriptor of this process with getsockopt(2),
// which Node has no API for: the descriptor is shared with a short python3
// child (as its fd 3) that reports the options as JSON.

const { execFileSync } = require('child_process');

const script = `
import json, socket
s = socket.socket(fileno=3)
out = {
  'TCP_NODELAY': s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY),
  'SO_KEEPALIVE': s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
  'TCP_KEEPIDLE': s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
}
s.detach()
print(json.dumps(out))
`;

/** { TCP_NODELAY, SO_KEEPALIVE, TCP_KEEPIDLE } of the TCP socket `fd`. */
function tcpOptions(fd) {
  const output = execFileSync('python3', ['-c', script], {
    stdio: ['ignore', 'pipe', 'inherit', fd],
    encoding: 'utf8',
    timeout: 10000,
  });
  return JSON.parse(output);
}

module.exports = { tcpOptions };
