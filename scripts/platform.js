'use strict';

// Which prebuilt binary fits the running machine, and the npm package that
// ships it. One package per platform, laid out as napi-rs lays them out
// (npm/<platform>/package.json with `os`, `cpu` and `libc`); the main package
// lists them in `optionalDependencies`, so npm installs only the one whose
// `os`/`cpu`/`libc` match. Used by binding.js (loading) and by
// scripts/build.js and scripts/package.js (building and packing).

// The platforms a prebuilt package exists for. The next ones (see the
// README) get an entry here once a machine of that kind builds and tests them.
const PLATFORMS = {
  'linux-x64-gnu': { os: 'linux', cpu: 'x64', libc: 'glibc' },
};

// 'gnu' or 'musl' on Linux (the C library Node itself runs on), else ''.
function linuxLibc() {
  if (process.platform !== 'linux') return '';
  const report = process.report && process.report.getReport();
  const header = typeof report === 'string' ? JSON.parse(report).header : report && report.header;
  return header && header.glibcVersionRuntime ? 'gnu' : 'musl';
}

// The running machine as napi-rs names platforms: linux-x64-gnu,
// linux-arm64-musl, darwin-arm64, win32-x64-msvc, ...
function currentPlatform() {
  const libc = linuxLibc();
  const abi = libc || (process.platform === 'win32' ? 'msvc' : '');
  return [process.platform, process.arch, abi].filter(Boolean).join('-');
}

const packageName = (platform) => `rs-net-${platform}`;
const binaryName = (platform) => `rs-net.${platform}.node`;

module.exports = { PLATFORMS, currentPlatform, packageName, binaryName };
