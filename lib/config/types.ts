import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HookName, SettingValues } from './settings.js';

/** Every setting after defaults, file, TSGUND_CMD_ARGS and CLI flags are merged. */
export interface Settings extends SettingValues {
  app: string | null;
}

export type LogLevel = Settings['loglevel'];

/** What a hook receives: a read-only view of the running server. */
export interface HookContext {
  settings: Readonly<Settings>;
  pid: number;
  log: (message: string) => void;
}

export interface WorkerInfo {
  pid: number;
  id: number;
  generation: number;
}

/** Each hook's signature; `Hooks` below requires one for every name of the hook table. */
interface HookSignatures {
  onStarting(ctx: HookContext): unknown;
  onReload(ctx: HookContext): unknown;
  whenReady(ctx: HookContext): unknown;
  preFork(ctx: HookContext, worker: { generation: number }): unknown;
  postFork(ctx: HookContext, worker: WorkerInfo): unknown;
  postWorkerInit(ctx: HookContext, worker: WorkerInfo): unknown;
  workerInt(ctx: HookContext, worker: WorkerInfo): unknown;
  workerAbort(ctx: HookContext, worker: WorkerInfo): unknown;
  preExec(ctx: HookContext): unknown;
  childExit(ctx: HookContext, worker: WorkerInfo & { code: number | null; signal: string | null }): unknown;
  workerExit(ctx: HookContext, worker: WorkerInfo): unknown;
  preRequest(ctx: HookContext, worker: WorkerInfo, req: IncomingMessage): unknown;
  postRequest(ctx: HookContext, worker: WorkerInfo, req: IncomingMessage, res: ServerResponse): unknown;
  nworkersChanged(ctx: HookContext, change: { from: number; to: number }): unknown;
  onExit(ctx: HookContext): unknown;
}
export type Hooks = { [K in HookName]: HookSignatures[K] };

/** The shape of a config file: any subset of the settings plus hooks. */
export type UserConfig = Partial<Omit<Settings, 'bind' | 'forwardedAllowIps' | 'umask'>> & {
  bind?: string | string[];
  forwardedAllowIps?: string | string[];
  umask?: number | string | null;
} & Partial<Pick<Hooks, HookName>>;
