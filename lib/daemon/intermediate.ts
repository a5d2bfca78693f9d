// The short-lived middle process of `tsgund start -D`. daemonize-process spawns
// a detached copy (new session, no controlling terminal) and exits at once
// with no way to report readiness, so the CLI runs this script with a pipe on
// fd 3; the daemon inherits that pipe and reports READY or ERROR on it.
import '../early-signals.js';
import { daemonizeProcess } from 'daemonize-process';
import { fileURLToPath } from 'node:url';
import { READY_FD_ENV } from './ready-pipe.js';

const cli = fileURLToPath(new URL('../cli/main.js', import.meta.url));
// daemonize-process runs `node script ...arguments`; keep Node's own flags in front
const [script, ...args] = [...process.execArgv, cli, ...process.argv.slice(2)];

daemonizeProcess({
  script,
  arguments: args,
  env: { ...process.env, [READY_FD_ENV]: '3' },
  stdio: ['ignore', 'ignore', 'ignore', 3],
});
