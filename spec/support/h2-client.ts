// HTTP/2 clients for end-to-end tests, on Node's http2 client: one request,
// and a load of sessions each keeping streams in flight, which records which
// pid answered each stream and what every session was told by GOAWAY.
import http2 from 'node:http2';
import { pause } from './load.js';

/** A stream loop's pause between requests: streams stay in flight at every GOAWAY, without taking both cores. */
const STREAM_PACE_MS = 10;

export interface H2Reply {
  status: number;
  body: string;
  /** The server's SETTINGS as the session saw them. */
  settings: http2.Settings;
}

/** One GET over a fresh HTTP/2 session (TLS not verified: the tests' certificates are self-signed). */
export function h2get(url: string, path = '/'): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url, { rejectUnauthorized: false });
    session.on('error', reject);
    const stream = session.request({ ':path': path });
    let status = 0;
    let body = '';
    stream.setEncoding('utf8');
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('data', (d: string) => (body += d));
    stream.on('end', () => {
      const settings = session.remoteSettings;
      session.close();
      resolve({ status, body, settings });
    });
    stream.on('error', reject);
    stream.end();
  });
}

export interface H2Load {
  /** Streams answered, with when (Date.now()) and the pid in the body. */
  readonly answers: { at: number; pid: number }[];
  /** Streams that errored or got no answer, with why (a refused stream retried with an answer is not one). */
  readonly failures: string[];
  /** Streams the server reported unprocessed (REFUSED_STREAM) and that were sent again, as clients do. */
  refused: number;
  /** The sessions that were told to go away, with the last stream ids of their GOAWAYs. */
  readonly goaways: number[][];
  /** Every session: the pids that answered on it and the GOAWAYs it was told (empty: none). */
  readonly sessions: { pids: Set<number>; told: number[] }[];
  stop(): Promise<void>;
}

/**
 * `sessions` sessions keep `streams` requests each in flight on `path`
 * (which answers the worker's pid). A session that gets a GOAWAY takes no
 * new streams: its lane opens a new session, so a drain shows as new pids.
 */
export function h2Load(url: string, sessions: number, streams: number, path = '/pid'): H2Load {
  const answers: { at: number; pid: number }[] = [];
  const failures: string[] = [];
  const goaways: number[][] = [];
  const seen: { pids: Set<number>; told: number[] }[] = [];
  let stopping = false;
  const all: http2.ClientHttp2Session[] = [];
  const open = (): { session: http2.ClientHttp2Session; told: number[]; pids: Set<number> } => {
    const session = http2.connect(url, { rejectUnauthorized: false });
    all.push(session);
    const told: number[] = [];
    const pids = new Set<number>();
    seen.push({ pids, told });
    session.on('goaway', (_code, last) => {
      if (!told.length) goaways.push(told);
      told.push(last);
    });
    session.on('error', () => {});
    return { session, told, pids };
  };
  const lane = async (): Promise<void> => {
    let current = open();
    const worker = async (): Promise<void> => {
      while (!stopping) {
        await pause(STREAM_PACE_MS);
        if (current.told.length || current.session.closed || current.session.destroyed) current = open();
        let on = current;
        let pid = await one(on.session, path).catch((err: Error) => err);
        // RFC 9113, section 8.7: a stream refused unprocessed may be sent again, on a new session
        if (pid instanceof Error && pid.message.includes('REFUSED_STREAM') && !stopping) {
          load.refused++;
          if (current.session.closed || current.session.destroyed || current.told.length) current = open();
          on = current;
          pid = await one(on.session, path).catch((err: Error) => err);
        }
        if (pid instanceof Error) failures.push(pid.message);
        else {
          answers.push({ at: Date.now(), pid });
          on.pids.add(pid);
        }
      }
    };
    await Promise.all(Array.from({ length: streams }, worker));
  };
  const lanes = Promise.all(Array.from({ length: sessions }, lane));
  const load: H2Load = {
    answers,
    failures,
    goaways,
    sessions: seen,
    refused: 0,
    async stop() {
      stopping = true;
      await lanes;
      for (const s of all) s.close();
    },
  };
  return load;
}

function one(session: http2.ClientHttp2Session, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path });
    let body = '';
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => (body += d));
    stream.on('end', () =>
      /^\d+\n$/.test(body) ? resolve(Number(body)) : reject(new Error(`bad body ${JSON.stringify(body)}`)),
    );
    stream.on('error', reject);
    stream.end();
  });
}
