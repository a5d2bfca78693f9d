import { spawn } from 'node:child_process';
import { basename } from 'node:path';
import { EXIT } from '../errors.js';

/** How one app's `start --only NAME -D` went: its exit code and what it printed. */
interface Started {
  name: string;
  code: number;
  output: string;
}

function startOne(name: string, args: string[]): Promise<Started> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...args, '--only', name], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', (err) => resolve({ name, code: EXIT.config, output: `tsgund: ${err.message}\n` }));
    child.on('close', (code) => resolve({ name, code: code ?? EXIT.config, output }));
  });
}

/**
 * `tsgund start ecosystem.config.js` with several apps, as `pm2 start` does:
 * each app is daemonized as a master of its own (its name, logs and pidfile
 * in the run directory), all at once. Returns 0 once every one is ready, else
 * non-zero, naming the apps that failed, each with its reason.
 */
export async function startAll(file: string, names: string[], argv: string[]): Promise<number> {
  const daemon = argv.some((a) => a === '-D' || a === '--daemon') ? [] : ['--daemon'];
  const results = await Promise.all(names.map((name) => startOne(name, [...argv, ...daemon])));
  for (const r of results) {
    const lines = r.output.trimEnd().split('\n').filter(Boolean);
    const out = r.code === 0 ? process.stdout : process.stderr;
    for (const line of lines) out.write(`${r.name}: ${line.replace(/^tsgund: /, '')}\n`);
  }
  const failed = results.filter((r) => r.code !== 0).map((r) => r.name);
  if (!failed.length) return EXIT.ok;
  process.stderr.write(
    `tsgund: ${basename(file)}: ${failed.join(', ')} failed to start (${results.length - failed.length} of ${results.length} started)\n`,
  );
  return results.find((r) => r.code !== 0)!.code;
}
