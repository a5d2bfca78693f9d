// What `tsgund reload` and `tsgund upgrade` wait for: the master counts the
// HUP and USR2 signals it receives and keeps the outcome of the last one it
// handled, for its status snapshot.

import type { OperationKind, OperationOutcome, OperationStatus } from '../../protocol/status.js';

export class Outcomes {
  private readonly ops: Record<OperationKind, OperationStatus> = {
    reload: { requested: 0, last: null },
    upgrade: { requested: 0, last: null },
  };

  /** A signal asking for `kind` arrived (counted when queued, so a waiter's signal is never missed). */
  requested(kind: OperationKind): void {
    this.ops[kind].requested++;
  }

  /** `kind` begins: the number its outcome carries. */
  begin(kind: OperationKind): number {
    return this.ops[kind].requested;
  }

  record(kind: OperationKind, seq: number, outcome: Pick<OperationOutcome, 'result' | 'reason' | 'detail'>): void {
    this.ops[kind].last = { seq, ...outcome, at: new Date().toISOString() };
  }

  status(): Record<OperationKind, OperationStatus> {
    const copy = (o: OperationStatus): OperationStatus => ({ requested: o.requested, last: o.last && { ...o.last } });
    return { reload: copy(this.ops.reload), upgrade: copy(this.ops.upgrade) };
  }
}
