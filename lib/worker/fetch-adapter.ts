import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';

export type FetchHandler = (request: Request) => Response | Promise<Response>;

/** Serve a web-standard `fetch(Request) → Response` handler (Hono, itty, …) on node:http. */
export function fetchToListener(fetch: FetchHandler) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const host = req.headers.host ?? 'localhost';
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (Array.isArray(v)) for (const x of v) headers.append(k, x);
      else if (v !== undefined) headers.set(k, v);
    }
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    const request = new Request(`http://${host}${req.url ?? '/'}`, {
      method: req.method,
      headers,
      body: hasBody ? (Readable.toWeb(req) as unknown as ReadableStream) : null,
      ...(hasBody ? { duplex: 'half' } : {}),
    } as RequestInit);
    const response = await fetch(request);
    res.statusCode = response.status;
    response.headers.forEach((value, key) => {
      res.appendHeader(key, value);
    });
    if (!response.body) {
      res.end();
      return;
    }
    Readable.fromWeb(response.body as unknown as WebReadableStream).pipe(res);
  };
}
