// Built-ins without their ES module facade, which costs every worker's boot (see node-http.ts).
const { createRequire } = process.getBuiltinModule('node:module');
const { fileURLToPath } = process.getBuiltinModule('node:url');
const { existsSync } = process.getBuiltinModule('node:fs');
const { join } = process.getBuiltinModule('node:path');

/**
 * tsgund's native addon (native/reaper, N-API): the system calls Node has no
 * binding for. Optional: shipped prebuilt for linux x64 glibc and musl and
 * arm64 glibc, built with native/reaper/build.cjs elsewhere; each user says
 * what it does without it. A prebuild older than this version may lack the
 * newer functions, hence the optional members.
 */
export interface NativeAddon {
  /** pid of an exited, not yet waited-for child, without reaping it; 0 if none. */
  peek(): number;
  /** Reap `pid` if it has exited: [pid, exit code or -1, signal or -1], else null. */
  reap(pid: number): [number, number, number] | null;
  isSubreaper(): boolean;
  /** One byte `tag` with `fds` (SCM_RIGHTS) on a UNIX socket, without blocking: false when the socket is full. */
  sendFds?(socketFd: number, fds: number[], tag: number): boolean;
  /** The next message sendFds sent, without blocking: [tag, ...fds] (close-on-exec), or null when none waits. */
  recvFds?(socketFd: number): number[] | null;
  /** listen(2) on a bound socket, without libuv polling it (this process never accepts on it). */
  listenFd?(fd: number, backlog: number): void;
  /**
   * A classic BPF program on the SO_REUSEPORT group of socket `fd`: each new
   * connection goes to the group's socket at index hash(source address) % count.
   */
  attachReusePortCbpf?(fd: number, count: number): void;
  /** setpgid(0, 0): this process leads a process group of its own; returns its id. */
  makeGroupLeader?(): number;
  /** prctl(PR_SET_CHILD_SUBREAPER, 1): orphans of this process's descendants re-parent to it. */
  setSubreaper?(): void;
}

/** The addon's optional members a feature needs, or null with why they are unavailable. */
export function addonWith<K extends keyof NativeAddon>(
  ...members: K[]
): { native: NativeAddon & Required<Pick<NativeAddon, K>>; error: null } | { native: null; error: string } {
  const { native, error } = loadNativeAddon();
  if (!native) return { native: null, error: error! };
  const missing = members.filter((m) => typeof native[m] !== 'function');
  if (missing.length)
    return { native: null, error: `its native addon is older than this version (no ${missing.join(', ')})` };
  return { native: native as NativeAddon & Required<Pick<NativeAddon, K>>, error: null };
}

// node-gyp-build picks native/reaper/build/Release (built by build.cjs) if there,
// else the prebuild for this platform, arch and libc in native/reaper/prebuilds.
const ADDON_DIR = fileURLToPath(new URL('../../native/reaper/', import.meta.url));

let loaded: { native: NativeAddon | null; error: string | null } | null = null;

/**
 * The prebuild node-gyp-build would pick, when nothing could make it pick
 * another: no local build, no override in the environment, and the file for
 * this platform, arch and libc (its own test for musl) is there. Opened
 * directly, it costs a worker under 1 ms of CPU at boot instead of 6 to 18
 * (node-gyp-build's own load and directory reads), measured on Node 24.
 */
function certainPrebuild(): string | null {
  const env = process.env;
  if (env.TSGUND_REAPER_PREBUILD || env.npm_config_arch || env.npm_config_platform || env.PREBUILDS_ONLY) return null;
  if (existsSync(join(ADDON_DIR, 'build'))) return null;
  const libc = env.LIBC ?? (existsSync('/etc/alpine-release') ? 'musl' : 'glibc');
  const file = join(ADDON_DIR, 'prebuilds', `${process.platform}-${process.arch}`, `tsgund-reaper.${libc}.node`);
  return existsSync(file) ? file : null;
}

/**
 * A .node file opened as require() opens it, without the CommonJS loader,
 * which took about 8 ms more (createRequire and a first require) on Node 24.
 */
function dlopen(file: string): unknown {
  const module = { exports: {} };
  process.dlopen(module, file);
  return module.exports;
}

const nodeGypBuild = (): ((dir: string) => unknown) => createRequire(import.meta.url)('node-gyp-build');

/** The addon, or why it is unavailable. Loaded once, on first use. */
export function loadNativeAddon(): { native: NativeAddon | null; error: string | null } {
  if (loaded) return loaded;
  if (process.platform !== 'linux') {
    loaded = { native: null, error: `not supported on ${process.platform}` };
    return loaded;
  }
  try {
    const direct = certainPrebuild();
    loaded = { native: (direct ? dlopen(direct) : nodeGypBuild()(ADDON_DIR)) as NativeAddon, error: null };
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0]! : String(err);
    loaded = { native: null, error: `its native addon is neither prebuilt for this platform nor built (${msg})` };
  }
  return loaded;
}
