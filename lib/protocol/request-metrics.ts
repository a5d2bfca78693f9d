// Worker side of the request metrics. Workers never load prom-client: each
// request costs a few array increments here, and every heartbeat carries the
// counts accumulated since the previous one (a delta) to the master, which adds
// them into its own prom-client metrics (lib/stats/master-metrics.ts).

/**
 * Upper bounds (seconds) of the request duration histogram, shared by workers
 * and the master. Finer than prom-client's defaults at the low end, where a
 * pre-fork server on a local network answers most requests.
 */
export const DURATION_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

/** Label values of `status_class`, indexed by `Math.floor(status / 100) - 1`. */
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

/** Label values of `protocol`: HTTP/1.x (1.0 and 1.1) and HTTP/2. */
export const PROTOCOLS = ['http1', 'http2'] as const;

/**
 * Status recorded for a request whose response never finished (the client went
 * away, or the connection was destroyed): nginx's "client closed request".
 */
export const CLIENT_CLOSED = 499;

/** What a heartbeat carries: the requests a worker answered since its previous delta. */
export interface RequestDelta {
  /** Requests per status class, in STATUS_CLASSES order. */
  classes: number[];
  /**
   * Requests per duration bucket, NOT cumulative: `buckets[i]` counts
   * durations in (DURATION_BUCKETS[i-1], DURATION_BUCKETS[i]], and the last
   * slot (index DURATION_BUCKETS.length) those above the largest bound.
   */
  buckets: number[];
  /** Sum of the durations, in seconds. */
  sum: number;
  /** Requests per protocol, in PROTOCOLS order (absent from workers that served HTTP/1.x only). */
  protocols?: number[];
}

/** The index in STATUS_CLASSES of an HTTP status (out-of-range codes are clamped). */
export function statusClassIndex(status: number): number {
  const i = Math.floor(status / 100) - 1;
  return Math.min(Math.max(i, 0), 4);
}

/** Is `value` a delta this version of tsgund can add (the master checks what arrives over IPC)? */
export function isRequestDelta(value: unknown): value is RequestDelta {
  const d = value as RequestDelta | null;
  const counts = (a: unknown, n: number) =>
    Array.isArray(a) && a.length === n && a.every((x) => Number.isInteger(x) && x >= 0);
  return (
    typeof d === 'object' &&
    d !== null &&
    counts(d.classes, STATUS_CLASSES.length) &&
    counts(d.buckets, DURATION_BUCKETS.length + 1) &&
    Number.isFinite(d.sum) &&
    d.sum >= 0 &&
    (d.protocols === undefined || counts(d.protocols, PROTOCOLS.length))
  );
}

/** Counts requests in plain arrays; `takeDelta` hands them over and starts again from zero. */
export class RequestMetrics {
  private classes = new Array<number>(STATUS_CLASSES.length).fill(0);
  private buckets = new Array<number>(DURATION_BUCKETS.length + 1).fill(0);
  private sum = 0;
  private count = 0;
  private http2 = 0;

  /** `http2`: the request came over HTTP/2. */
  observe(status: number, seconds: number, http2 = false): void {
    if (http2) this.http2++;
    this.classes[statusClassIndex(status)]!++;
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
    this.buckets[i]!++;
    this.sum += Math.max(seconds, 0);
    this.count++;
  }

  /** The counts since the previous call, or null when no request ended since. */
  takeDelta(): RequestDelta | null {
    if (this.count === 0) return null;
    const delta: RequestDelta = { classes: this.classes, buckets: this.buckets, sum: this.sum };
    if (this.http2 > 0) delta.protocols = [this.count - this.http2, this.http2];
    this.http2 = 0;
    this.classes = new Array<number>(STATUS_CLASSES.length).fill(0);
    this.buckets = new Array<number>(DURATION_BUCKETS.length + 1).fill(0);
    this.sum = 0;
    this.count = 0;
    return delta;
  }
}
