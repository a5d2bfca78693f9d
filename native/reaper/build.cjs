#!/usr/bin/env node
// Builds the zombie reaper addon where no prebuild fits. The addon ships
// prebuilt (prebuilds/, loaded by node-gyp-build at run time) for linux x64
// glibc and musl and arm64 glibc; on any other Linux run, once after install:
//
//   node node_modules/tsgund/native/reaper/build.cjs
//
// (needs python3, make and a C compiler). tsgund has no install script, so no
// package manager runs this by itself.
//
// Optional by design: when this cannot build (no compiler, no Node headers)
// tsgund still runs; a master that finds itself PID 1 without the addon logs
// one warning and leaves orphans unreaped (run the container with --init then),
// and on USR1 the workers reopen the log paths themselves instead of being
// handed the master's descriptors.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { dirname, join } = require('node:path');

const here = __dirname;
const warn = (why) => {
  process.stderr.write(
    `tsgund: zombie reaper addon not built (${why}); tsgund works without it, ` +
      "but as a container's PID 1 it cannot reap orphaned processes (use `docker run --init`), " +
      'on USR1 the workers must be able to reach the log paths themselves, --sticky ip is refused, ' +
      'and processes the app starts may outlive their worker\n',
  );
  process.exit(0);
};

if (process.platform !== 'linux') process.exit(0); // PID 1 reaping is a Linux-container matter
if (process.env.TSGUND_SKIP_REAPER) process.exit(0);
try {
  require('node-gyp-build')(here); // a prebuild (or an earlier build) loads: nothing to build
  process.stdout.write('tsgund: the zombie reaper addon loads for this platform; nothing to build\n');
  process.exit(0);
} catch {
  // no prebuild for this platform: build it
}

// npm sets npm_config_node_gyp to its bundled node-gyp while it runs scripts.
const candidates = [
  process.env.npm_config_node_gyp,
  join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
].filter(Boolean);
const gyp = candidates.find((p) => existsSync(p));
if (!gyp) warn('node-gyp not found');

// Use the headers installed beside this node (official tarballs, Docker images,
// distro packages all ship <prefix>/include/node) instead of downloading them.
const args = [gyp, 'rebuild'];
const prefix = dirname(dirname(process.execPath));
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include/node/node_api.h')))
  args.push(`--nodedir=${prefix}`);

const r = spawnSync(process.execPath, args, { cwd: here, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
if (r.status !== 0) {
  // the first lines that say what went wrong (a compiler error, "make: …", "gyp ERR! stack Error: …")
  const why = (r.stderr || String(r.error || ''))
    .split('\n')
    .filter(
      (l) =>
        l.trim() &&
        !/^gyp (info|ERR! (System|command|cwd|node -v|node-gyp -v|not ok|stack {4}))|^Warning: failed to get compiler|^(cmd|status):/.test(
          l,
        ),
    )
    .slice(0, 6)
    .join('\n  ');
  warn(`node-gyp rebuild failed:\n  ${why}\n`);
}
process.stdout.write('tsgund: zombie reaper addon built\n');
