/**
 * In-process requests into the app, without a socket (light-my-request), so that property tests
 * can afford thousands of cases: ~0.1–0.4 ms a request against ~1 ms over loopback HTTP. The
 * request still runs the app's whole code path — the fast path, express's router, body
 * streaming, content-type and size checks, error mapping — only the TCP socket is missing (the
 * socket-level properties in property*.test.ts cover that part).
 */
import inject from 'light-my-request';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface Injected {
  readonly status: number;
  readonly headers: Record<string, string | string[] | number | undefined>;
  readonly text: string;
}

export interface InjectOptions {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD' | 'OPTIONS' | 'PATCH';
  readonly url: string;
  readonly headers?: Record<string, string>;
  readonly payload?: string | Buffer;
  /** The client's address as the app sees it (req.socket.remoteAddress); 127.0.0.1 by default. */
  readonly remoteAddress?: string;
}

/**
 * A function that sends one request into `app` (an express app or any node request handler).
 * express swaps the prototype of `res` for its own, which would drop light-my-request's
 * overrides of `write`/`end` (the answer would vanish); pinning them on the instance first keeps
 * them through the swap.
 */
export function injector(app: (req: IncomingMessage, res: ServerResponse) => void): (opts: InjectOptions) => Promise<Injected> {
  const dispatch = (req: IncomingMessage, res: ServerResponse) => {
    const proto = Object.getPrototypeOf(res) as Record<string, unknown>;
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (key !== 'constructor' && typeof proto[key] === 'function') (res as unknown as Record<string, unknown>)[key] = proto[key];
    }
    app(req, res);
  };
  return async (opts) => {
    const res = await inject(dispatch, { method: opts.method, url: opts.url, headers: opts.headers, payload: opts.payload, remoteAddress: opts.remoteAddress });
    return { status: res.statusCode, headers: res.headers, text: res.payload };
  };
}
