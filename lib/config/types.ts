import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logform } from 'winston';
import type Transport from 'winston-transport';
import type { HookName } from './hook-table.js';
import type { SettingValues } from './settings.js';

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
} & Partial<Pick<Hooks, HookName>> &
  LogTransportsConfig;

/** The error log's winston transports and format: only a JS or TS config file can give them. */
export interface LogTransportsConfig {
  /**
   * Transports beside tsgund's own file (or stderr), which get the master's
   * and the workers' lines. Called at start, and again on USR1 and HUP; the
   * transports it returned before are then closed.
   */
  errorLogTransports?: () => Transport[] | Promise<Transport[]>;
  /** The format of those transports (each one that has no format of its own); tsgund's line by default. */
  errorLogFormat?: Logform.Format;
}
