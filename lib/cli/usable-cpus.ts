import { availableParallelism } from 'node:os';

/** Reads a file's text, or null when it is missing or unreadable. */
export type ReadText = (path: string) => string | null;

const readText: ReadText = (path) => {
  try {
    return process.getBuiltinModule('node:fs').readFileSync(path, 'utf8');
  } catch {
    return null;
  }
};

/** `quota period` (cgroup v2 cpu.max) or the two v1 files' numbers, in CPUs; null for no quota ("max", -1). */
const cpusOf = (quota: string | undefined, period: string | undefined): number | null => {
  const q = Number(quota);
  const p = Number(period);
  return Number.isFinite(q) && q > 0 && p > 0 ? q / p : null;
};

/**
 * The CPU quota of this process's cgroup, in CPUs (`docker --cpus 1.5`, a
 * Kubernetes limits.cpu of 1500m: 1.5), or null when there is none. cgroup v2:
 * cpu.max of its cgroup and every parent, the smallest wins; cgroup v1: the
 * cpu controller's cfs_quota_us / cfs_period_us.
 */
export function cpuQuota(read: ReadText = readText): number | null {
  const lines = (read('/proc/self/cgroup') ?? '').split('\n');
  const found: number[] = [];
  const v2 = lines.find((l) => l.startsWith('0::'))?.slice(3);
  if (v2 !== undefined) {
    // inside a cgroup namespace the path is '/', and /sys/fs/cgroup is the container's own
    for (let dir = v2.replace(/\/$/, ''); ; dir = dir.slice(0, dir.lastIndexOf('/'))) {
      const [quota, period] = (read(`/sys/fs/cgroup${dir}/cpu.max`) ?? '').trim().split(/\s+/);
      const cpus = cpusOf(quota, period);
      if (cpus !== null) found.push(cpus);
      if (!dir) break;
    }
  }
  const v1 = lines.find((l) => /^\d+:[^:]*\bcpu\b[^:]*:/.test(l))?.split(':')[2];
  if (v1 !== undefined)
    for (const base of [`/sys/fs/cgroup/cpu${v1 === '/' ? '' : v1}`, '/sys/fs/cgroup/cpu']) {
      const cpus = cpusOf(read(`${base}/cpu.cfs_quota_us`)?.trim(), read(`${base}/cpu.cfs_period_us`)?.trim());
      if (cpus !== null) found.push(cpus);
    }
  return found.length ? Math.min(...found) : null;
}

/**
 * What `-w max` and PM2's `instances: 'max'` mean: the CPUs this process may
 * use. The cgroup's CPU quota rounded up (a container's CPU limit) when there
 * is one, never more than the CPUs it may run on (its affinity: a cpuset, or
 * every core of the machine), which is all there is without a quota.
 */
export function usableCpus(read: ReadText = readText, parallelism = availableParallelism()): number {
  const quota = cpuQuota(read);
  return quota === null ? parallelism : Math.max(1, Math.min(parallelism, Math.ceil(quota)));
}
