/**
 * Milliseconds from an arbitrary origin that only moves forward: liveness and
 * timeouts are measured with it, so a wall-clock step (NTP, an operator's
 * `date -s`) never makes a worker look silent, or a backoff look over.
 */
export type Clock = () => number;

export const monotonic: Clock = () => performance.now();
