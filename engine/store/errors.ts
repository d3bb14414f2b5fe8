/**
 * The one error type of the event log. `code` says what kind of failure it is, so that callers
 * (the HTTP layer) can map it without parsing messages: `EOVERLOAD` → 503 with Retry-After,
 * everything else → 500 (the events were not made durable).
 */
export type EventLogErrorCode =
  /** The log holds damaged data that is not a torn tail; opening it would lose acknowledged events. */
  | 'ECORRUPT'
  /** The directory is in use by another open log (this process or another one). */
  | 'ELOCKED'
  /** The log was closed; nothing more can be appended. */
  | 'ECLOSED'
  /** Too many bytes are waiting to be written; retry later. */
  | 'EOVERLOAD'
  /** A write or fsync failed; the batches of that group were not stored. */
  | 'EIO'
  /** A failed write could not be undone; the log refuses further writes until reopened. */
  | 'EFAILED'
  /** A call that does not fit the log's state (snapshot position out of range, missing handler). */
  | 'EINVALID';

export class EventLogError extends Error {
  override readonly name = 'EventLogError';
  readonly code: EventLogErrorCode;
  /** The file (base name) the error is about, when there is one. */
  readonly file?: string;
  /** Byte offset inside `file`, for corruption. */
  readonly offset?: number;

  constructor(
    code: EventLogErrorCode,
    message: string,
    details: { file?: string; offset?: number; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    if (details.file !== undefined) this.file = details.file;
    if (details.offset !== undefined) this.offset = details.offset;
  }
}

/** Message of an unknown thrown value, for wrapping. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
