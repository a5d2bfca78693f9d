import http2 from 'node:http2';
import type net from 'node:net';

/**
 * A session's budget of streams its client reset: `burst` at once, then
 * `perSecond`. Pure, on the clock passed in (ms, monotonic).
 */
export class ResetBudget {
  private tokens: number;
  private last: number;

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Spend one reset: false once the budget is spent. */
  spend(now: number): boolean {
    const elapsed = Math.max(0, now - this.last);
    this.last = Math.max(this.last, now);
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.perSecond) / 1000);
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}

/** A 'stream' event's arguments, and the stream's session. */
type Pending = [session: http2.Http2Session, args: unknown[]];

/**
 * Streams reach the app (Node's compatibility API, which listens for the
 * server's 'stream' event) one turn late, once the read that brought their
 * HEADERS has been walked to its end. Node emits 'stream' in a nextTick that
 * can run inside nghttp2's walk of the buffer, before a RST_STREAM behind the
 * HEADERS is read; so without this a rapid reset (CVE-2023-44487: HEADERS and
 * RST_STREAM, thousands a second) costs a request, a response and an app call
 * per stream. Deferred, a stream the client has already reset costs nothing
 * more, and is counted against its session's ResetBudget
 * (http2StreamResetBurst, http2StreamResetRate); when that is spent the
 * session ends at once with GOAWAY ENHANCE_YOUR_CALM. Node applies the same
 * two settings in nghttp2 to every reset, but only sends a GOAWAY and leaves
 * the session to end later.
 */
export function gateResets(server: net.Server, burst: number, perSecond: number): void {
  const emit = server.emit as (this: net.Server, event: string | symbol, ...args: unknown[]) => boolean;
  const budgets = new WeakMap<http2.Http2Session, ResetBudget>();
  let queue: Pending[] = [];
  const spent = (session: http2.Http2Session, now: number): boolean => {
    let budget = budgets.get(session);
    if (!budget) {
      budget = new ResetBudget(burst, perSecond, now);
      budgets.set(session, budget);
    }
    return !budget.spend(now);
  };
  const dispatch = (): void => {
    const streams = queue;
    queue = [];
    const now = performance.now();
    for (const [session, args] of streams) {
      const stream = args[0] as http2.ServerHttp2Stream;
      if (!stream.closed && !stream.destroyed) emit.call(server, 'stream', ...args);
      else if (!session.destroyed && spent(session, now)) calm(session);
    }
  };
  // the session whose 'stream' event Node is passing on to the server: a stream already reset has forgotten it
  let emitting: http2.Http2Session | null = null;
  server.on('session', (session: http2.Http2Session) =>
    session.prependListener('stream', () => {
      emitting = session;
    }),
  );
  server.emit = function (this: net.Server, event: string | symbol, ...args: unknown[]): boolean {
    if (event !== 'stream') return emit.call(this, event, ...args);
    // one immediate per turn for all the streams the turn's reads brought
    const stream = args[0] as http2.ServerHttp2Stream;
    // a stream reset while it waits errors with no listener of Node's compatibility API yet, which
    // would crash the worker; that API ignores stream errors too (the request and response see 'close')
    stream.on('error', ignore);
    if (queue.push([emitting!, args]) === 1) setImmediate(dispatch);
    return true;
  };
}

function ignore(): void {}

function calm(session: http2.Http2Session): void {
  session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  session.destroy();
}
