/**
 * HTTP errors. The server uses the engine's single typed error class ({@link EngineError}: a
 * status, a machine-readable code and a message for people) for its own refusals too, so that
 * every 4xx/5xx leaves as `{"error":{"code","message"}}` through one function.
 */
import { EngineError } from '../engine/serve/types.js';

export { EngineError };

/** The error body of the contract (§3). */
export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}

export const badRequest = (message: string): EngineError => new EngineError(400, 'invalid_request', message);
export const notFound = (message: string): EngineError => new EngineError(404, 'not_found', message);

/** Codes for statuses raised by express/its router rather than by us. */
const CODE_BY_STATUS: Readonly<Record<number, string>> = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  408: 'request_timeout',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'too_many_requests',
  503: 'unavailable',
};

/**
 * Maps anything thrown while handling a request to status + body. An {@link EngineError} is
 * answered as it says; a 4xx error from express or its router (bad percent-encoding, …) keeps its
 * status and its message, which is about the request; anything else is a 500 whose body says
 * nothing about the cause (that goes to the log only).
 */
export function toHttpError(err: unknown): { status: number; body: ErrorBody; internal: boolean } {
  if (err instanceof EngineError && err.status >= 400 && err.status <= 599) {
    return { status: err.status, body: { error: { code: err.code, message: err.message } }, internal: false };
  }
  if (err instanceof URIError) {
    // The router failed to decode a path parameter (bad percent-encoding).
    return { status: 400, body: { error: { code: 'invalid_request', message: 'the path has malformed percent-encoding' } }, internal: false };
  }
  const status = httpStatusOf(err);
  if (status !== undefined && status >= 400 && status < 500) {
    const message = err instanceof Error && err.message ? err.message : 'bad request';
    return { status, body: { error: { code: CODE_BY_STATUS[status] ?? 'invalid_request', message } }, internal: false };
  }
  return { status: 500, body: { error: { code: 'internal', message: 'internal server error' } }, internal: true };
}

/** The status of an http-errors style error (`status`/`statusCode` with `expose`), if any. */
function httpStatusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { status?: unknown; statusCode?: unknown; expose?: unknown };
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  // http-errors marks client errors `expose: true`; without it the message may be internal.
  return status !== undefined && e.expose === true ? status : undefined;
}
