/** What keeps the event loop alive that the watch lets go of: the channel to the master. */
export interface Refable {
  ref(): void;
  unref(): void;
}

/** Where the loop's end is heard: the process, or a test's emitter. */
export interface LoopEnd {
  on(event: 'beforeExit', listener: () => void): unknown;
  removeListener(event: 'beforeExit', listener: () => void): unknown;
}

/**
 * `promise`, or a rejection with `fail()` as soon as the event loop runs dry
 * while it is pending: with no timer, socket, request or thread-pool job left,
 * nothing can ever settle it (Node ends a script in that state with "unsettled
 * top-level await"). libuv does the counting, through 'beforeExit'. The channel
 * to the master would keep the loop alive, so it is unref'd meanwhile; its
 * explicit ref afterwards is the state it had, as the worker listens on it for
 * its whole life.
 */
export function unlessStalled<T>(
  promise: Promise<T>,
  fail: () => Error,
  channel: Refable | undefined = process.channel,
  loop: LoopEnd = process,
): Promise<T> {
  if (!channel) return promise;
  let onDry = (): void => {};
  const stalled = new Promise<never>((_, reject) => {
    onDry = () => reject(fail());
  });
  loop.on('beforeExit', onDry);
  channel.unref();
  return Promise.race([promise, stalled]).finally(() => {
    loop.removeListener('beforeExit', onDry);
    channel.ref();
  });
}
