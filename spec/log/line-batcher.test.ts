import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { LineBatcher } from '../../lib/log/line-batcher.js';

/** A LineBatcher whose end of turn runs when the test says, writing into `writes`. */
function turnLines(maxBytes = 4096) {
  const writes: string[] = [];
  let endOfTurn: (() => void) | null = null;
  const lines = new LineBatcher(
    (chunk) => writes.push(chunk),
    () => maxBytes,
    (fn) => {
      assert.equal(endOfTurn, null, 'one end of turn scheduled at a time');
      endOfTurn = fn;
    },
  );
  const endTurn = (): void => {
    const fn = endOfTurn;
    endOfTurn = null;
    fn?.();
  };
  return { lines, writes, endTurn, scheduled: () => endOfTurn !== null };
}

describe('LineBatcher', () => {
  let server: net.Server;
  const accepted: net.Socket[] = [];
  const clients: net.Socket[] = [];

  before(async () => {
    server = net.createServer((s) => accepted.push(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  after(() => {
    for (const s of [...accepted, ...clients]) s.destroy();
    server.close();
  });

  /** The server side of a fresh loopback connection. */
  async function socket(): Promise<net.Socket> {
    const count = accepted.length;
    clients.push(net.connect((server.address() as net.AddressInfo).port, '127.0.0.1'));
    while (accepted.length === count) await new Promise((resolve) => setTimeout(resolve, 5));
    return accepted[count]!;
  }

  it('keeps what is written to a held socket in the process until the turn ends and the lines are written', async () => {
    const s = await socket();
    const { lines, writes, endTurn } = turnLines();
    lines.add('one\n', s);
    s.write('response');
    // what node:http's end() does to the socket: force it uncorked
    s.uncork();
    assert.equal(s.writableLength, 'response'.length);
    assert.deepEqual(writes, []);
    endTurn();
    assert.deepEqual(writes, ['one\n']);
    assert.equal(s.writableLength, 0);
    assert.equal(s.writableCorked, 0);
  });

  it('writes the lines of one turn in one write, then schedules the next turn anew', async () => {
    const [a, b] = [await socket(), await socket()];
    const { lines, writes, endTurn, scheduled } = turnLines();
    lines.add('a1\n', a);
    lines.add('b1\n', b);
    lines.add('a2\n', a);
    endTurn();
    assert.deepEqual(writes, ['a1\nb1\na2\n']);
    assert.equal(scheduled(), false);
    lines.add('a3\n', a);
    assert.equal(scheduled(), true);
    endTurn();
    assert.deepEqual(writes, ['a1\nb1\na2\n', 'a3\n']);
  });

  it('splits a turn into writes of at most maxBytes on line boundaries; a longer line goes alone', async () => {
    const s = await socket();
    const { lines, writes, endTurn } = turnLines(8);
    for (const line of ['123\n', '456\n', '789\n', 'a-very-long-line\n', 'x\n']) lines.add(line, s);
    s.write('held');
    endTurn();
    assert.deepEqual(writes, ['123\n456\n', '789\n', 'a-very-long-line\n', 'x\n']);
    assert.equal(s.writableLength, 0);
  });

  it('writes at once, after what is pending, a line with no socket to hold', async () => {
    const s = await socket();
    const { lines, writes } = turnLines();
    lines.add('held\n', s);
    s.write('response');
    lines.writeNow('no socket\n');
    assert.deepEqual(writes, ['held\n', 'no socket\n']);
    assert.equal(s.writableLength, 0);
  });

  it('releases a socket closed while held without throwing', async () => {
    const s = await socket();
    const { lines, writes, endTurn } = turnLines();
    lines.add('gone\n', s);
    s.write('response');
    s.destroy();
    endTurn();
    assert.deepEqual(writes, ['gone\n']);
  });
});

describe('LineBatcher without sockets', () => {
  it('batches lines until its schedule fires, then writes them in one chunk', () => {
    const writes: string[] = [];
    let fire: (() => void) | null = null;
    const batch = new LineBatcher(
      (chunk) => writes.push(chunk),
      () => 4096,
      (fn) => (fire = fn),
    );
    batch.add('a\n');
    batch.add('b\n');
    assert.deepEqual(writes, []);
    fire!();
    assert.deepEqual(writes, ['a\nb\n']);
  });
});
