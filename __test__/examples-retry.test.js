'use strict';

// The retry example from Node's server.listen() documentation
// (examples/retry.js) runs verbatim on rs-net: while another server holds
// the port it retries every second, and once the port is free it listens.

const { spawn } = require('child_process');
const net = require('net');
const path = require('path');
const readline = require('readline');

const example = path.join(__dirname, '..', 'examples', 'retry.js');

function holdPort() {
  return new Promise((resolve) => {
    const holder = net.createServer();
    holder.listen(0, '127.0.0.1', () => resolve(holder));
  });
}

test('retries while the port is taken, then listens on it', async () => {
  const holder = await holdPort();
  const port = holder.address().port;
  const child = spawn(process.execPath, [example], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const lines = [];
  const listening = new Promise((resolve) => {
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      // Free the port after the second retry message: the example must keep
      // retrying while it is taken.
      if (lines.filter((l) => l === 'Address in use, retrying...').length === 2) holder.close();
      if (line.startsWith('Listening on')) resolve(line);
    });
  });

  expect(await listening).toBe(`Listening on 127.0.0.1:${port}`);
  expect(lines.slice(0, 2)).toEqual(['Address in use, retrying...', 'Address in use, retrying...']);

  const greeting = await new Promise((resolve, reject) => {
    let text = '';
    net
      .connect(port, '127.0.0.1')
      .setEncoding('utf8')
      .on('data', (chunk) => (text += chunk))
      .on('end', () => resolve(text))
      .on('error', reject);
  });
  expect(greeting).toBe('hello from rs-net\n');

  // SIGTERM closes the server and the example exits by itself.
  child.kill('SIGTERM');
  expect(await exited).toEqual({ code: 0, signal: null });
});
