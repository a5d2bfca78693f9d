import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bindListener, type Listener } from '../../lib/listeners/handles.js';
import type { ErrorLog } from '../../lib/log/error-line.js';
import { KernelPlacement } from '../../lib/master/placement/kernel-placement.js';
import { SlotPlacement } from '../../lib/master/placement/slot-placement.js';

const lines: string[] = [];
const log = {
  debug() {},
  info: (m: string) => lines.push(`info ${m}`),
  warning: (m: string) => lines.push(`warning ${m}`),
  error: (m: string) => lines.push(`error ${m}`),
  critical() {},
  reopen() {},
  close: async () => {},
} satisfies ErrorLog;

/** A placement whose kernel calls are recorded: ['listen', fd] and ['attach', fd, count]. */
function recorded() {
  const calls: (string | number)[][] = [];
  const kernel = new KernelPlacement(
    {
      listenFd: (fd, backlog) => void calls.push(['listen', fd, backlog]),
      attachReusePortCbpf: (fd, count) => void calls.push(['attach', fd, count]),
    },
    () => 128,
    log,
  );
  const placement = new SlotPlacement(new Map());
  placement.kernel = kernel;
  return { calls, placement };
}

const bind = (host = '127.0.0.1', reusePort = true) => bindListener({ kind: 'tcp', host, port: 0 }, reusePort);
const fds = (p: SlotPlacement, l: Listener) => Array.from({ length: p.slots.size }, (_, i) => p.slots.handle(l, i)!.fd);

describe('placement by the kernel: KernelPlacement', () => {
  it('listens on every slot socket in slot order, then attaches the program with the slot count', async () => {
    const l = await bind();
    const { calls, placement } = recorded();
    placement.ensure([l], 3);
    const [s0, s1, s2] = fds(placement, l);
    assert.deepEqual(calls, [
      ['listen', s0!, 128],
      ['listen', s1!, 128],
      ['listen', s2!, 128],
      ['attach', s0!, 3],
    ]);
    calls.length = 0;
    placement.ensure([l], 2); // fewer slots: every socket stays, and the count
    placement.ensure([l], 3);
    assert.deepEqual(calls, []);
    placement.closeAll([l], false);
  });

  it('appends a slot in order and attaches again with the new count, saying that clients move', async () => {
    const l = await bind();
    const { calls, placement } = recorded();
    placement.ensure([l], 2);
    calls.length = 0;
    lines.length = 0;
    placement.ensure([l], 3);
    const s = fds(placement, l);
    assert.deepEqual(calls, [
      ['listen', s[2]!, 128],
      ['attach', s[0]!, 3],
    ]);
    assert.deepEqual(lines, [`info Sticky placement on ${l.label}: 2 -> 3 slots (most clients move)`]);
    placement.closeAll([l], false);
  });

  it('leaves a shared listener alone, and warns once per bind whose clients it cannot tell apart', async () => {
    const [loop, any, shared] = [await bind(), await bind('0.0.0.0'), await bind('127.0.0.1', false)];
    const { calls, placement } = recorded();
    placement.ensure([shared], 2);
    assert.deepEqual(calls, []);
    lines.length = 0;
    placement.kernel!.warnUnplaced([loop, any, shared]);
    assert.equal(lines.length, 2);
    assert.match(
      lines[0]!,
      /^warning sticky placement: 127\.0\.0\.1:0 is a loopback bind; every client behind a local proxy/,
    );
    assert.match(lines[1]!, /is not a TCP bind of its own; its clients are not placed$/);
    placement.closeAll([loop, any, shared], false);
  });
});
