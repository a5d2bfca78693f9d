// Node's internals in one room: each is checked where it is taken, and a
// missing one is one line naming the Node version and the missing piece.
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { UserError } from '../../lib/errors.js';
import {
  MissingInternalError,
  channelPipe,
  checkMasterInternals,
  checkWorkerInternals,
  startConnectionsTracking,
} from '../../lib/internals/node-internals.js';

describe("Node's internals", () => {
  it('are all there on this Node, in the master and in a worker', () => {
    assert.doesNotThrow(checkMasterInternals);
    assert.doesNotThrow(checkWorkerInternals);
  });

  it('refuse with one line naming the Node version and the missing piece, never fail open', () => {
    const missing = [
      () => channelPipe({}),
      () => channelPipe({ [Symbol('kChannelHandle')]: { onread() {}, readStop() {}, readStart() {} } }),
      () => startConnectionsTracking(net.createServer()),
    ];
    for (const take of missing) {
      assert.throws(take, (err: Error) => {
        assert.ok(err instanceof MissingInternalError && err instanceof UserError);
        assert.match(
          err.message,
          new RegExp(`^Node ${process.version.replace(/\./g, '\\.')} lacks .+; use Node 22, 24 or 26$`),
        );
        assert.equal(err.message.split('\n').length, 1);
        return true;
      });
    }
  });
});
