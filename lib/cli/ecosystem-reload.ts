import { basename, resolve } from 'node:path';
import { existingRunDir, registeredSocket } from '../control/run-dir.js';
import { EXIT, UserError } from '../errors.js';
import { type ControlOptions, sendControl } from './control.js';
import { appName, appsOf, exportsApps, isEcosystemFile, loadEcosystem, mayBeEcosystemFile } from './ecosystem.js';
import type { ListedMaster } from '../control/format.js';
import { listMasters } from './ls-command.js';
import { startAll } from './multi-start.js';

// Built-ins without their ES module facade, which costs start-up (see node-http.ts).
const { existsSync } = process.getBuiltinModule('node:fs');

/** Is the NAME given to `tsgund reload` an ecosystem file rather than a master's name? */
export async function namesEcosystemFile(word: string): Promise<boolean> {
  if (!existsSync(word)) return false;
  return isEcosystemFile(word) || (mayBeEcosystemFile(word) && (await exportsApps(resolve(word))));
}

/**
 * The running masters started from the ecosystem file `path` whose app it no
 * longer lists (a new master of a USR2 upgrade runs as NAME.2). Masters
 * started otherwise, or from other files, are not the file's business.
 */
export function droppedFrom(path: string, names: string[], masters: ListedMaster[]): string[] {
  return masters
    .filter((m) => m.status.ecosystem === path && !names.includes(m.name.replace(/\.2$/, '')))
    .map((m) => m.name);
}

/**
 * `tsgund reload ecosystem.config.js`, as `pm2 reload ecosystem.config.js`:
 * every app the file lists that runs is reloaded (and re-reads its entry),
 * the ones not running are started as daemons, and running masters the file
 * no longer lists are named and left alone. Returns the exit code: the first
 * failure's, else 0.
 */
export async function reloadEcosystem(file: string, opts: ControlOptions): Promise<number> {
  const origin = basename(file);
  const names = appsOf(await loadEcosystem(resolve(file)), origin)
    .filter((a) => a.autostart !== false)
    .map(appName);
  const dir = existingRunDir();
  const running = names.filter((n) => dir && existsSync(registeredSocket(dir, n)));
  const codes: number[] = [];
  for (const name of running) {
    try {
      const { code, message } = await sendControl('reload', { name }, opts);
      (code === 0 ? process.stdout : process.stderr).write(`${name}: ${message}\n`);
      codes.push(code);
    } catch (err) {
      process.stderr.write(`${name}: ${(err as Error).message}\n`);
      codes.push(err instanceof UserError ? err.exitCode : EXIT.config);
    }
  }
  const missing = names.filter((n) => !running.includes(n));
  if (missing.length) codes.push(await startAll(file, missing, ['start', file, '--daemon']));
  const others = droppedFrom(resolve(file), names, await listMasters());
  if (others.length) process.stdout.write(`no longer in ${origin}, left running: ${others.join(', ')}\n`);
  return codes.find((c) => c !== 0) ?? EXIT.ok;
}
