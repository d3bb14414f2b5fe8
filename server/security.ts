/**
 * Security headers from helmet, computed once. helmet's middleware sets the same static headers
 * on every response; running it once against a recording response and replaying the list costs
 * one `setHeader` per header on the hot route instead of a chain of a dozen middlewares.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';

/** helmet's headers for a JSON API: nothing may load, frame or sniff our answers. */
export function securityHeaders(): ReadonlyArray<readonly [string, string]> {
  const middleware = helmet({
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    // No HTML is served, so a cross-origin isolation policy would only confuse API clients.
    crossOriginEmbedderPolicy: false,
    frameguard: { action: 'deny' },
  });
  const headers = new Map<string, string>();
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers.set(name.toLowerCase(), Array.isArray(value) ? value.join(', ') : String(value));
      return recorder;
    },
    removeHeader(name: string) {
      headers.delete(name.toLowerCase());
    },
    getHeader(name: string) {
      return headers.get(name.toLowerCase());
    },
    locals: {},
  };
  let called = false;
  middleware({ headers: {} } as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err;
    called = true;
  });
  // helmet is synchronous; if a future version is not, fail loudly rather than serve without headers.
  if (!called || headers.size === 0) throw new Error('security headers: helmet did not run synchronously');
  return [...headers];
}
