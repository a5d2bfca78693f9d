// A leaf module: a worker that runs hooks loads this, not the settings table.

/**
 * Every server hook and the process it runs in: the master, or each worker
 * (which loads the config file for them only when one of these is set). The
 * hook lists and names below, and the Hooks type, derive from this table.
 */
export const HOOK_TABLE = {
  onStarting: 'master',
  onReload: 'master',
  whenReady: 'master',
  preFork: 'master',
  postFork: 'master',
  postWorkerInit: 'worker',
  workerInt: 'worker',
  workerAbort: 'worker',
  preExec: 'master',
  childExit: 'master',
  workerExit: 'worker',
  preRequest: 'worker',
  postRequest: 'worker',
  nworkersChanged: 'master',
  onExit: 'master',
} as const satisfies Record<string, 'master' | 'worker'>;
export type HookName = keyof typeof HOOK_TABLE;
export type WorkerHookName = { [K in HookName]: (typeof HOOK_TABLE)[K] extends 'worker' ? K : never }[HookName];
export const HOOKS = Object.keys(HOOK_TABLE) as readonly HookName[];
export const WORKER_HOOKS: readonly WorkerHookName[] = HOOKS.filter(
  (name): name is WorkerHookName => HOOK_TABLE[name] === 'worker',
);
