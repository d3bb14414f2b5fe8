/** What every answer of the app must look like, for the property tests (any route, any input). */
import { expect } from 'vitest';
import { securityHeaders } from '../../server/security.js';
import type { Injected } from './inject.js';

const SECURITY = securityHeaders();
/** Traces of an internal error that must never reach a client: stack frames, source paths. */
const LEAK_RE = /\bat \S+ \([^)]*:\d+:\d+\)|\n\s+at |node_modules|\.ts:\d+|\.js:\d+|\/engine\/|\/server\/|Error: /;

export interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  /** For an error: its code and message. */
  readonly code?: string;
  readonly message?: string;
}

/**
 * Checks the parts of an answer that hold for every request, good or bad: never a 5xx (the
 * app's own refusals are 4xx; overload is not exercised here), JSON, the security headers and
 * a request id, and for a 4xx exactly `{"error":{"code","message"}}` with no internal detail.
 */
export function checkAnswer(r: Injected, what: string): Answer {
  expect(r.status, `${what}: ${r.text.slice(0, 300)}`).toBeGreaterThanOrEqual(200);
  expect(r.status, `${what}: ${r.text.slice(0, 300)}`).toBeLessThan(500);
  for (const [name, value] of SECURITY) expect(r.headers[name], `${what}: header ${name}`).toBe(value);
  expect(r.headers['x-request-id'], what).toBeTruthy();
  expect(String(r.headers['content-type']), what).toMatch(/^application\/json/);
  const body = JSON.parse(r.text) as Record<string, unknown>;
  if (r.status < 400) return { status: r.status, body };
  expect(Object.keys(body), `${what}: ${r.text}`).toEqual(['error']);
  const error = body.error as Record<string, unknown>;
  expect(Object.keys(error).sort(), what).toEqual(['code', 'message']);
  expect(typeof error.code, what).toBe('string');
  expect(typeof error.message, what).toBe('string');
  expect((error.message as string).length, what).toBeGreaterThan(0);
  expect(error.message, `${what}: leaks internals`).not.toMatch(LEAK_RE);
  return { status: r.status, body, code: error.code as string, message: error.message as string };
}

/** True when `text` parses as JSON (a body with a bare NaN does not). */
export function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
