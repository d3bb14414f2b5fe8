/**
 * Per-client rate limit: a token bucket per client address (`FEEDRANK_RATE_LIMIT` requests a
 * second, bursts of `FEEDRANK_RATE_BURST`); a request finding its bucket empty is answered 429
 * with `Retry-After`. Off unless configured.
 *
 * Why not express-rate-limit: the hot route `/recommend` bypasses express's router (app.ts), and
 * express-rate-limit is an async middleware that wants express's `req.ip` and sends its own
 * answers; its memory store counts fixed windows (a client can send twice the limit across a
 * window edge) and grows with every address seen in a window. This is a synchronous O(1) check
 * that fits both paths, smooth (a token bucket), and bounded: buckets live in an LRU of
 * `maxClients` entries (lru-cache), so a flood of addresses costs at most that much memory — a
 * client evicted from it starts again with a full bucket.
 *
 * The key is the TCP peer address; IPv6 clients are keyed by their /64 (one host usually holds a
 * whole /64, so per-address keys would be free to multiply). Behind a reverse proxy every request
 * comes from the proxy: limit there instead, or leave this off.
 */
import { isIPv6 } from 'node:net';
import { LRUCache } from 'lru-cache';

export interface RateLimitOptions {
  /** Tokens added per second (the sustained request rate allowed per client). */
  readonly perSecond: number;
  /** Bucket size: requests a client may send at once after being idle. */
  readonly burst: number;
  /** Clients tracked at most (least recently seen forgotten first). */
  readonly maxClients?: number;
}

interface Bucket {
  tokens: number;
  /** performance.now() of the last refill. */
  at: number;
}

export const DEFAULT_MAX_CLIENTS = 100_000;

export class RateLimiter {
  readonly perSecond: number;
  readonly burst: number;
  private readonly buckets: LRUCache<string, Bucket>;

  constructor(opts: RateLimitOptions) {
    if (!(opts.perSecond > 0) || !(opts.burst >= 1)) throw new RangeError('rate limit: perSecond must be > 0 and burst >= 1');
    this.perSecond = opts.perSecond;
    this.burst = opts.burst;
    this.buckets = new LRUCache<string, Bucket>({ max: opts.maxClients ?? DEFAULT_MAX_CLIENTS });
  }

  /** Clients tracked now. */
  get size(): number {
    return this.buckets.size;
  }

  /**
   * Takes a token for `client`: 0 when the request may go ahead, otherwise the whole seconds to
   * wait before a token is there (for `Retry-After`; at least 1).
   */
  take(client: string, now: number = performance.now()): number {
    let b = this.buckets.get(client);
    if (b === undefined) {
      b = { tokens: this.burst, at: now };
      this.buckets.set(client, b);
    } else {
      const elapsed = now - b.at;
      if (elapsed > 0) b.tokens = Math.min(this.burst, b.tokens + (elapsed / 1000) * this.perSecond);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.perSecond));
  }
}

/** The rate-limit key of a peer address: the address itself, or its /64 for IPv6. */
export function clientKey(address: string | undefined): string {
  if (!address) return 'unknown';
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7); // IPv4-mapped
  if (!isIPv6(address)) return address;
  const zone = address.indexOf('%');
  const addr = zone < 0 ? address : address.slice(0, zone);
  const [head, tail] = addr.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => (parseInt(g, 16) || 0).toString(16))
    .join(':')}::/64`;
}
