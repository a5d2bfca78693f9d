import assert from 'node:assert/strict';
import fs from 'node:fs';
import type net from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { canHandOver, decode, handOver, tagOf, takeHandedLogs } from '../../lib/log/fd-handover.js';
import { reopenLogs } from '../../lib/worker/worker-logs.js';
import { cleanup, tempDir } from '../support/harness.js';
import { socketPair } from '../support/socket-pair.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

const fdOf = (socket: net.Socket): number => (socket as unknown as { _handle: { fd: number } })._handle.fd;

describe('log descriptors handed over', () => {
  it('says which logs a message carries in its byte, in a fixed order', () => {
    assert.deepEqual(tagOf({ errorlog: 7, accesslog: 9 }), { tag: 3, fds: [7, 9] });
    assert.deepEqual(tagOf({ accesslog: 9 }), { tag: 2, fds: [9] });
    assert.deepEqual(tagOf({}), { tag: 0, fds: [] });
    assert.deepEqual(decode([3, 7, 9]), { logs: { errorlog: 7, accesslog: 9 }, extra: [] });
    assert.deepEqual(decode([2, 9]), { logs: { accesslog: 9 }, extra: [] });
    // descriptors the byte does not account for are returned to be closed; missing ones are not invented
    assert.deepEqual(decode([1, 7, 8, 9]), { logs: { errorlog: 7 }, extra: [8, 9] });
    assert.deepEqual(decode([3, 7]), { logs: { errorlog: 7 }, extra: [] });
    assert.deepEqual(decode([]), { logs: {}, extra: [] });
  });

  it('a worker takes each log from the handover, else reopens its path; a failure is returned, not thrown', () => {
    const calls: string[] = [];
    const file = (name: string, fail = false) => ({
      reopen(fd?: number) {
        calls.push(`${name}:${fd ?? 'path'}`);
        if (fail) throw new Error(`cannot open /x/${name}: EACCES`);
      },
    });
    assert.equal(
      reopenLogs({ errorlog: file('error'), accesslog: file('access') }, 6, {
        take: () => ({ errorlog: 11, accesslog: 12 }),
      }),
      null,
    );
    assert.equal(reopenLogs({ errorlog: file('error'), accesslog: null }, undefined, { take: () => null }), null);
    assert.equal(
      reopenLogs({ errorlog: file('error', true), accesslog: file('access', true) }, 6, { take: () => ({}) }),
      'cannot open /x/error: EACCES; cannot open /x/access: EACCES',
    );
    // at boot only what was handed over: no path is opened for the others
    assert.equal(
      reopenLogs({ errorlog: file('error'), accesslog: file('access') }, 6, {
        handedOnly: true,
        take: () => ({ accesslog: 13 }),
      }),
      null,
    );
    assert.equal(
      reopenLogs({ errorlog: file('error', true), accesslog: null }, 6, { handedOnly: true, take: () => null }),
      null,
    );
    assert.deepEqual(calls, ['error:11', 'access:12', 'error:path', 'error:path', 'access:path', 'access:13']);
  });

  it('sends a file descriptor over a UNIX socket and only the newest of several is kept', {
    skip: !canHandOver() && 'the native addon is not built here',
  }, async () => {
    const dir = tempDir();
    dirs.push(dir);
    // the receiving end is paused: libuv must not read the byte (and its descriptors) from it
    const { master: client, worker: receiver } = await socketPair(dir);
    const files = ['a.log', 'b.log'].map((name) => fs.openSync(join(dir, name), 'a'));
    assert.equal(handOver(fdOf(client), { accesslog: files[0]! }), 'sent');
    assert.equal(handOver(fdOf(client), { errorlog: files[0]!, accesslog: files[1]! }), 'sent');
    for (const fd of files) fs.closeSync(fd);
    const got = takeHandedLogs(fdOf(receiver));
    assert.ok(got?.errorlog !== undefined && got.accesslog !== undefined, JSON.stringify(got));
    fs.writeSync(got.accesslog, 'to b\n');
    fs.writeSync(got.errorlog, 'to a\n');
    assert.equal(fs.readFileSync(join(dir, 'b.log'), 'utf8'), 'to b\n');
    assert.equal(fs.readFileSync(join(dir, 'a.log'), 'utf8'), 'to a\n');
    assert.equal(takeHandedLogs(fdOf(receiver)), null, 'nothing more waits');
    fs.closeSync(got.errorlog);
    fs.closeSync(got.accesslog);
    client.destroy();
    receiver.destroy();
  });
});
