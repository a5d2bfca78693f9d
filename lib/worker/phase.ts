/**
 * Where a worker is: the one value its decisions read (the master's
 * MasterState, for one process). It only moves forward: a worker that drains
 * never serves again, and one that exits does nothing else.
 */
export type Phase = 'booting' | 'serving' | 'draining' | 'exiting';

const ORDER: readonly Phase[] = ['booting', 'serving', 'draining', 'exiting'];

/** May a worker in phase `from` enter `to`? Only a later phase. */
export const canEnter = (from: Phase, to: Phase): boolean => ORDER.indexOf(to) > ORDER.indexOf(from);
