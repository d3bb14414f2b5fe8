/**
 * The in-memory form of a data directory (contract §1), shared by training, evaluation and the
 * server's start-up. Ids are interned to dense indices once, at load; every per-record column is a
 * typed array indexed by that dense id, so memory stays proportional to the data and hot loops
 * never touch strings.
 */
import type { EventType } from '../schema/records.js';
import type { Interner } from './interner.js';

/** Event types as small integer codes (the `type` column of {@link EventTable}). */
export const EVENT_CODE: Readonly<Record<EventType, number>> = {
  view: 0,
  like: 1,
  share: 2,
  comment: 3,
  follow: 4,
  not_interested: 5,
};
export const EVENT_NAMES: readonly EventType[] = ['view', 'like', 'share', 'comment', 'follow', 'not_interested'];

/** Videos, one row per dense video index. */
export interface VideoTable {
  readonly ids: Interner;
  /** Dense creator index (into {@link Dataset.creators}). */
  readonly creator: Int32Array;
  /** Dense sound index (into {@link Dataset.sounds}), -1 when the video has none. */
  readonly sound: Int32Array;
  /** CSR layout: the tags of video i are tagIds[tagOffsets[i] .. tagOffsets[i+1]). Length n+1. */
  readonly tagOffsets: Int32Array;
  /** Dense tag indices (into {@link Dataset.tags}). */
  readonly tagIds: Int32Array;
  readonly durationMs: Float64Array;
  readonly createdAt: Float64Array;
  /** Length of the outside content embedding, 0 when no video has one. */
  readonly embeddingDim: number;
  /** n × embeddingDim, row-major; null when embeddingDim is 0. */
  readonly embedding: Float32Array | null;
}

/** Users: every user of users.jsonl, then users that appear only in events (no profile). */
export interface UserTable {
  readonly ids: Interner;
  /** 1 when the user has a line in users.jsonl. */
  readonly hasProfile: Uint8Array;
  /** Epoch ms, NaN when absent. */
  readonly createdAt: Float64Array;
  /** CSR: declared sign-up interests of user i are interestTagIds[interestOffsets[i] .. [i+1]). */
  readonly interestOffsets: Int32Array;
  readonly interestTagIds: Int32Array;
  /** CSR: creators user i follows (from users.jsonl) are followCreatorIds[followOffsets[i] .. [i+1]). */
  readonly followOffsets: Int32Array;
  readonly followCreatorIds: Int32Array;
}

/** A user table for users known only by id (no profile line): for datasets built in code. */
export function usersWithoutProfiles(ids: Interner): UserTable {
  const n = ids.size;
  return {
    ids,
    hasProfile: new Uint8Array(n),
    createdAt: new Float64Array(n).fill(NaN),
    interestOffsets: new Int32Array(n + 1),
    interestTagIds: new Int32Array(0),
    followOffsets: new Int32Array(n + 1),
    followCreatorIds: new Int32Array(0),
  };
}

/** Events sorted by ts (stable: ties keep file order), duplicates by eventId removed. */
export interface EventTable {
  readonly count: number;
  readonly user: Int32Array;
  readonly video: Int32Array;
  readonly ts: Float64Array;
  /** {@link EVENT_CODE} of the event type. */
  readonly type: Uint8Array;
  /** Watch time in ms for views; 0 for other types. */
  readonly watchMs: Float64Array;
  /**
   * The eventId of each event as its 64-bit hash halves (`eventIdHash` in event-id-hash.ts), (0, 0) when the event
   * has none; kept so that the server treats a re-sent event as a duplicate. Absent in hand-built tables.
   */
  readonly eventIdHi?: Uint32Array;
  readonly eventIdLo?: Uint32Array;
}

/** What loading one file found. */
export interface FileReport {
  readonly file: string;
  readonly lines: number;
  readonly records: number;
  /** Lines left out under --skip-invalid. */
  readonly invalid: number;
  /** Events dropped because their eventId was already seen. */
  readonly duplicates: number;
}

export interface LoadReport {
  readonly files: readonly FileReport[];
  /** Up to a few formatted errors (`file:line: field rule`) of invalid lines that were skipped. */
  readonly invalidSamples: readonly string[];
}

export interface Dataset {
  readonly tags: Interner;
  readonly creators: Interner;
  readonly sounds: Interner;
  readonly videos: VideoTable;
  readonly users: UserTable;
  readonly events: EventTable;
  readonly report: LoadReport;
}
