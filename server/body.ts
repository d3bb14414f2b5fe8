/**
 * Reads a JSON request body: content-type and charset checked (415), size bounded while
 * streaming (413, also after gzip/deflate/br decompression), malformed JSON named (400), and
 * `__proto__` / `constructor.prototype` keys removed so that no later merge can reach a prototype.
 */
import type { IncomingMessage } from 'node:http';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Transform } from 'node:stream';
import { EngineError } from './errors.js';

const unsupported = (message: string) => new EngineError(415, 'unsupported_media_type', message);
const tooLarge = (limit: number) =>
  new EngineError(413, 'payload_too_large', `request body exceeds the limit of ${limit} bytes`);
const invalidJson = (message: string) => new EngineError(400, 'invalid_json', message);

/** Throws 415 unless the request says it carries UTF-8 JSON (`application/json` or `…+json`). */
export function checkJsonContentType(header: string | undefined): void {
  if (!header) throw unsupported('content-type must be application/json');
  const semi = header.indexOf(';');
  const type = (semi < 0 ? header : header.slice(0, semi)).trim().toLowerCase();
  if (type !== 'application/json' && !(type.startsWith('application/') && type.endsWith('+json'))) {
    throw unsupported(`content-type must be application/json, got ${JSON.stringify(type.slice(0, 100))}`);
  }
  if (semi >= 0) {
    const m = /(?:^|;)\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(header.slice(semi));
    if (m && !/^utf-?8$/i.test(m[1]!)) {
      throw unsupported(`charset ${JSON.stringify(m[1]!.slice(0, 40))} is not supported; send utf-8`);
    }
  }
}

function decoderFor(encoding: string): Transform | undefined {
  switch (encoding) {
    case 'identity':
      return undefined;
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      throw unsupported(`content-encoding ${JSON.stringify(encoding.slice(0, 40))} is not supported`);
  }
}

/**
 * Resolves with the parsed body, or rejects with an {@link EngineError} (413, 415, 400). When the
 * limit is exceeded the rest of the body is read and discarded (so the client can read the 413)
 * but not kept.
 */
export function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  try {
    checkJsonContentType(req.headers['content-type']);
  } catch (err) {
    return Promise.reject(err);
  }
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  let decoder: Transform | undefined;
  try {
    decoder = decoderFor(encoding);
  } catch (err) {
    return Promise.reject(err);
  }
  const declared = req.headers['content-length'];
  if (!decoder && declared !== undefined && Number(declared) > limitBytes) {
    req.resume(); // discard; the 413 goes out at once
    return Promise.reject(tooLarge(limitBytes));
  }

  return new Promise<unknown>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const source = decoder ?? req;
    const finish = (err: unknown, value?: unknown) => {
      if (done) return;
      done = true;
      source.removeListener('data', onData);
      if (err !== undefined) {
        // Keep draining the raw request so the socket can carry the error answer.
        if (decoder) {
          req.unpipe(decoder);
          decoder.destroy();
        }
        req.resume();
        reject(err);
      } else {
        resolve(value);
      }
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) return finish(tooLarge(limitBytes));
      chunks.push(chunk);
    };
    source.on('data', onData);
    source.once('end', () => {
      if (done) return;
      try {
        finish(undefined, parseJson(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
      } catch (err) {
        finish(err);
      }
    });
    source.on('error', (err: Error & { code?: string }) => {
      finish(
        decoder && err.code?.startsWith('Z_')
          ? new EngineError(400, 'invalid_request', `request body is not valid ${encoding} data`)
          : new EngineError(400, 'invalid_request', 'request body was not received completely'),
      );
    });
    if (decoder) {
      req.on('error', () => finish(new EngineError(400, 'invalid_request', 'request body was not received completely')));
      req.pipe(decoder);
    }
    req.once('close', () => {
      if (!req.complete) finish(new EngineError(400, 'invalid_request', 'request body was not received completely'));
    });
  });
}

/** Keys that would reach a prototype if a parsed object were ever merged into another. */
function dropPrototypeKeys(this: unknown, key: string, value: unknown): unknown {
  if (key === '__proto__') return undefined;
  if (key === 'constructor' && typeof value === 'object' && value !== null && 'prototype' in value) return undefined;
  return value;
}

/** Parses a UTF-8 JSON document; throws 400 `invalid_json` naming the problem. */
export function parseJson(buf: Buffer): unknown {
  let text = buf.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') throw invalidJson('request body is empty; expected a JSON object');
  try {
    // The reviver costs ~2x parse time, so it only runs on the rare body that needs it.
    return text.includes('__proto__') || text.includes('prototype') ? JSON.parse(text, dropPrototypeKeys) : JSON.parse(text);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw invalidJson(`request body is not valid JSON: ${why.length > 200 ? `${why.slice(0, 200)}…` : why}`);
  }
}
