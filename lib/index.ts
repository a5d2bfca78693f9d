import type { UserConfig } from './config/types.js';

export type { Hooks, HookContext, Settings, UserConfig, WorkerInfo } from './config/types.js';

/** Typed config files: `export default defineConfig({ workers: 4 })`. */
export function defineConfig<T extends UserConfig>(config: T): T {
  return config;
}
