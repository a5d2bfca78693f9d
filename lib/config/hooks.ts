import type { ErrorLog } from '../log/error-line.js';
import { HOOKS, type HookName, WORKER_HOOKS } from './hook-table.js';
import type { HookContext, Hooks, Settings } from './types.js';

type HookArgs<K extends HookName> = Hooks[K] extends (ctx: HookContext, ...rest: infer R) => unknown ? R : never;

/** Calls the server hooks of a config file; a failing hook is logged, never fatal. */
export class HookRunner {
  constructor(
    private readonly hooks: Partial<Hooks>,
    private readonly settings: Settings,
    private readonly log: ErrorLog,
  ) {}

  /** The hooks named `names` (by default all) that `config` sets. */
  static from(
    config: Record<string, unknown>,
    settings: Settings,
    log: ErrorLog,
    names: readonly HookName[] = HOOKS,
  ): HookRunner {
    const hooks: Partial<Record<HookName, unknown>> = {};
    for (const name of names) if (typeof config[name] === 'function') hooks[name] = config[name];
    return new HookRunner(hooks as Partial<Hooks>, settings, log);
  }

  has(name: HookName): boolean {
    return typeof this.hooks[name] === 'function';
  }

  async call<K extends HookName>(name: K, ...args: HookArgs<K>): Promise<void> {
    const fn = this.hooks[name] as ((ctx: HookContext, ...a: unknown[]) => unknown) | undefined;
    if (!fn) return;
    const ctx: HookContext = { settings: this.settings, pid: process.pid, log: (m) => this.log.info(m) };
    try {
      await fn(ctx, ...args);
    } catch (err) {
      this.log.error(`hook ${name} failed`, err);
    }
  }
}

/**
 * A worker reads the hooks from the same config file the master loaded. The
 * loader (cosmiconfig) is imported only then: it costs each worker about 4 MiB.
 */
export async function loadWorkerHooks(
  configPath: string | null,
  settings: Settings,
  log: ErrorLog,
): Promise<HookRunner> {
  if (!configPath) return HookRunner.from({}, settings, log, WORKER_HOOKS);
  const [{ loadConfigFile }, { skipFileChecks }] = await Promise.all([
    import('./load-file.js'),
    import('../trust/file-trust.js'),
  ]);
  // the master checked this file and its imports before it forked us (and a
  // worker that is root runs the app as root anyway)
  skipFileChecks();
  const { config } = await loadConfigFile(configPath, process.cwd());
  return HookRunner.from(config, settings, log, WORKER_HOOKS);
}
