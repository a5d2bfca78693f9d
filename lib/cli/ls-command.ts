import type { Command } from 'commander';
import { join } from 'node:path';
import { requestStatus } from '../control/client.js';
import { formatList, type ListedMaster } from '../control/format.js';
import { existingRunDir } from '../control/run-dir.js';
import { freeSocketPath } from '../listeners/unix-path.js';

// Built-ins without their ES module facade, which costs start-up (see node-http.ts).
const { lstatSync, readdirSync } = process.getBuiltinModule('node:fs');

/**
 * Every master registered in the run directory, asked over its control
 * socket. A socket nobody answers on was left by a master that died: it is
 * removed when it is this user's (lstat, never following a link); anything
 * else that does not answer is skipped.
 */
export async function listMasters(): Promise<ListedMaster[]> {
  const dir = existingRunDir();
  if (!dir) return [];
  const uid = process.geteuid?.() ?? 0;
  // NAME.pid.sock is the control socket of a pidfile kept here: the same master as NAME.sock
  const names = readdirSync(dir)
    .filter((f) => f.endsWith('.sock') && !f.endsWith('.pid.sock'))
    .sort();
  const found = await Promise.all(
    names.map(async (file): Promise<ListedMaster | null> => {
      const path = join(dir, file);
      try {
        if (!lstatSync(path).isSocket()) return null;
        return { name: file.slice(0, -'.sock'.length), status: await requestStatus(path, 3000) };
      } catch {
        if (lstatOwner(path) === uid) await freeSocketPath(path);
        return null;
      }
    }),
  );
  return found.filter((m): m is ListedMaster => m !== null);
}

function lstatOwner(path: string): number | null {
  try {
    return lstatSync(path).uid;
  } catch {
    return null;
  }
}

/** `tsgund ls`: what runs, as `pm2 ls` shows it. */
export function registerLs(program: Command): void {
  program
    .command('ls')
    .alias('list')
    .description('list the running masters by name: pid, generation, workers, uptime, requests, memory (as pm2 ls)')
    .option('--json', 'print the masters and their status as JSON')
    .action(async (opts: { json?: boolean }) => {
      const masters = await listMasters();
      process.stdout.write(opts.json ? JSON.stringify(masters, null, 2) + '\n' : formatList(masters));
    });
}
