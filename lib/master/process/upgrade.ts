import { spawn } from 'node:child_process';
import { PARENT_ENV, handOver } from '../../listeners/inherited.js';
import type { Listener } from '../../listeners/handles.js';
import type { ErrorLog } from '../../log/error-line.js';
import { READY_FD_ENV } from '../../daemon/ready-pipe.js';

/**
 * USR2, the binary upgrade: this master starts a new one from the same
 * executable and arguments and hands it the listening sockets as inherited
 * fds. Both serve until the operator stops one of them.
 */
export class Upgrade {
  private parentPid: number | null;
  private childPid: number | null = null;

  constructor(
    private readonly log: ErrorLog,
    private readonly cwd: string,
  ) {
    const parent = Number(process.env[PARENT_ENV]);
    // only the master that spawned us is our parent: a stray variable in the
    // environment, or a parent that died already, leaves nothing to wait for
    this.parentPid = parent > 0 && parent === process.ppid ? parent : null;
    // workers and later masters must not see these
    delete process.env[PARENT_ENV];
  }

  /** Started by an older master that has not exited yet. */
  get isChild(): boolean {
    return this.parentPid !== null;
  }

  /** Why a USR2 cannot start an upgrade now, or null when it can. */
  refusal(): string | null {
    // PID 1's exit kills its whole PID namespace, the new master included: the upgrade could never finish
    if (process.pid === 1) return 'running as PID 1 (a container): roll out a new container instead';
    if (this.childPid !== null) return `an upgraded master (pid ${this.childPid}) is already running`;
    if (this.parentPid !== null) return `the old master (pid ${this.parentPid}) has not exited yet`;
    return null;
  }

  start(listeners: Listener[], slotSockets: { label: string; fd: number }[]): void {
    const { stdio, env } = handOver(listeners, slotSockets);
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env, [PARENT_ENV]: String(process.pid) };
    for (const name of [READY_FD_ENV, 'LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES']) delete childEnv[name];
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      cwd: this.cwd,
      env: childEnv,
      stdio: ['ignore', 'inherit', 'inherit', ...stdio],
    });
    child.on('error', (err) => this.log.error('USR2: cannot start the new master', err));
    if (child.pid === undefined) return;
    child.unref(); // the old master must be free to exit while the new one runs
    this.childPid = child.pid;
    this.log.info(`USR2: started new master (pid ${child.pid})`);
    child.on('exit', (code, signal) => {
      this.log.info(`New master (pid ${child.pid}) exited ${signal ? `by ${signal}` : `with code ${code}`}`);
      if (this.childPid === child.pid) this.childPid = null;
    });
  }

  /** The old master has gone: re-parenting changed our ppid. */
  parentGone(): boolean {
    return this.parentPid !== null && process.ppid !== this.parentPid;
  }

  promote(): void {
    this.parentPid = null;
  }

  /**
   * Known from the process tree, not by probing pids that may have been
   * reused: the child's exit event clears `childPid`, and the parent is gone
   * once our ppid changed.
   */
  otherMasterAlive(): boolean {
    return this.childPid !== null || (this.parentPid !== null && !this.parentGone());
  }
}
