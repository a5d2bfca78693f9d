import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cpuQuota, usableCpus } from '../../lib/cli/usable-cpus.js';

const files =
  (map: Record<string, string>) =>
  (path: string): string | null =>
    map[path] ?? null;

describe('the CPUs -w max and instances: max use', () => {
  it("a container's cgroup v2 quota (its own cgroup namespace), rounded up, never above the CPUs it may run on", () => {
    const limited = files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '150000 100000\n' });
    assert.equal(cpuQuota(limited), 1.5);
    assert.equal(usableCpus(limited, 64), 2, 'a Kubernetes limits.cpu of 1500m: 2 workers, not 64');
    assert.equal(usableCpus(files({ '/proc/self/cgroup': '0::/', '/sys/fs/cgroup/cpu.max': '800000 100000' }), 4), 4);
    assert.equal(usableCpus(files({ '/proc/self/cgroup': '0::/', '/sys/fs/cgroup/cpu.max': '5000 100000' }), 4), 1);
  });

  it('no quota ("max", no cpu controller, no cgroup files): the CPUs it may run on', () => {
    const unlimited = files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': 'max 100000\n' });
    assert.equal(cpuQuota(unlimited), null);
    assert.equal(usableCpus(unlimited, 64), 64, 'a pod without a CPU limit may use every core of the node');
    assert.equal(usableCpus(files({}), 8), 8);
  });

  it('the smallest quota on the way up a cgroup v2 path, and cgroup v1', () => {
    const nested = files({
      '/proc/self/cgroup': '0::/system.slice/app.service\n',
      '/sys/fs/cgroup/system.slice/app.service/cpu.max': 'max 100000',
      '/sys/fs/cgroup/system.slice/cpu.max': '300000 100000',
    });
    assert.equal(cpuQuota(nested), 3);
    const v1 = files({
      '/proc/self/cgroup': '3:cpuset:/\n2:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n',
      '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '200000\n',
      '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n',
    });
    assert.equal(cpuQuota(v1), 2, "the container's own mount when the host path is not there");
    const v1Unlimited = files({
      '/proc/self/cgroup': '2:cpu,cpuacct:/\n',
      '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n',
      '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n',
    });
    assert.equal(cpuQuota(v1Unlimited), null);
  });
});
