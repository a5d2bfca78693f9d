// Worker side of the app's metrics. The master asks with prom-client's own
// cluster request (lib/protocol/app-metrics.ts). prom-client answers it in a
// worker only once an AggregatorRegistry exists there (from version 13.2 on;
// before, as soon as it is loaded), which an app written for a plain cluster
// creates only in its primary. So, at the first request, tsgund creates one
// from the app's own copy of prom-client: from then on that copy answers,
// with the registries the app chose (AggregatorRegistry.setRegistries), and
// an app that creates one itself is not answered for twice. tsgund answers
// that first request itself, and answers an empty list while the app has not
// loaded prom-client, so that the master never waits for such a worker.

import { createRequire } from 'node:module';
import { join } from 'node:path';
import { METRICS_RESPONSE } from '../protocol/app-metrics.js';

interface PromClient {
  register: { getMetricsAsJSON(): unknown };
  AggregatorRegistry: new () => unknown;
}

const cjs = createRequire(import.meta.url);
const INDEX = /[\\/]node_modules[\\/]prom-client[\\/]index\.js$/;

/** The entry of the prom-client copy the app loaded: the one its directory resolves, else any loaded one. */
function loadedCopy(appDir: string): string | null {
  try {
    const own = createRequire(join(appDir, 'package.json')).resolve('prom-client');
    if (cjs.cache[own]) return own;
  } catch {
    // not resolvable from the app's directory: a dependency may still have loaded one
  }
  return Object.keys(cjs.cache).find((path) => INDEX.test(path)) ?? null;
}

function reply(requestId: number, metrics: unknown[]): void {
  if (process.connected) process.send!({ type: METRICS_RESPONSE, requestId, metrics });
}

/** Answers the master's requests for the app's metrics, for an app run from `appDir`. */
export function appMetricsResponder(appDir: string): (requestId: unknown) => void {
  let delegated = false;
  return (requestId) => {
    if (delegated || !Number.isSafeInteger(requestId)) return;
    const path = loadedCopy(appDir);
    if (!path) return reply(requestId as number, []);
    let client: PromClient;
    try {
      client = cjs(path) as PromClient;
      new client.AggregatorRegistry(); // its constructor adds the worker's listener, once per copy
      delegated = true;
    } catch {
      return reply(requestId as number, []); // not a prom-client tsgund knows
    }
    // the listener just added missed this request
    Promise.resolve(client.register.getMetricsAsJSON()).then(
      (metrics) => reply(requestId as number, [metrics]),
      () => reply(requestId as number, []),
    );
  };
}
