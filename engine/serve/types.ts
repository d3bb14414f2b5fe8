/**
 * The online engine's interface: what the HTTP server (a thin shell: parse → call → serialise)
 * calls. Inputs arrive already validated against the shared schemas (engine/schema/records.ts);
 * the engine checks what only it can know (unknown video ids, …) and throws {@link EngineError}
 * before changing anything.
 */
import type { EventRecord, UserRecord, VideoRecord } from '../schema/records.js';

/** One recommended item, as the contract's `items[]` (extra fields: `source`, `reasons`). */
export interface RecommendedItem {
  readonly videoId: string;
  readonly score: number;
  /** The candidate source that found it (e.g. `interest_ann`, `fresh`, `trending`, `cold_start`, `explore`). */
  readonly source: string;
  /** Why it was picked, for people: matched interest, shared tags, followed creator, exploration. */
  readonly reasons: readonly string[];
}

export interface RecommendResponse {
  readonly userId: string;
  readonly items: readonly RecommendedItem[];
  readonly modelVersion: string;
}

export interface SimilarResponse {
  readonly videoId: string;
  readonly items: ReadonlyArray<{ readonly videoId: string; readonly score: number }>;
}

/** One interest vector as people can read it: its weight and what lies near it in the catalogue. */
export interface UserInterestView {
  readonly weight: number;
  /** Most frequent tags and creators among the videos nearest this interest vector. */
  readonly topTags: readonly string[];
  readonly topCreators: readonly string[];
}

/**
 * `GET /users/:id` (contract: `{"userId","eventCount","interests":[...]}`): `interests` lists the
 * interest vectors, heaviest first; the extra fields give the decayed tag and creator affinities,
 * the declared sign-up interests and the follows.
 */
export interface UserInfoResponse {
  readonly userId: string;
  readonly eventCount: number;
  readonly interests: readonly UserInterestView[];
  readonly topTags: ReadonlyArray<{ readonly tag: string; readonly weight: number }>;
  readonly topCreators: ReadonlyArray<{ readonly creatorId: string; readonly weight: number }>;
  readonly declared: readonly string[];
  readonly follows: readonly string[];
}

/** Per-stage timing of one recommend call (ms), for metrics and logs. */
export type StageTimings = Record<string, number>;

export interface FeedEngine {
  /** Identifies the loaded bundle (its manifest version + creation time). */
  readonly modelVersion: string;
  /** `GET/POST /recommend`: exactly k items when that many eligible videos exist, best first. */
  recommend(userId: string, k: number, exclude: readonly string[], timings?: StageTimings): Promise<RecommendResponse>;
  /** `POST /events`: resolves once the accepted events are durable and applied. A batch with an unknown video is rejected whole. */
  ingestEvents(events: readonly EventRecord[]): Promise<{ accepted: number; duplicates: number }>;
  /** `POST /users`. */
  upsertUsers(users: readonly UserRecord[]): Promise<{ upserted: number }>;
  /** `POST /videos`: embedded with the video tower, recommendable at once. */
  addVideos(videos: readonly VideoRecord[]): Promise<{ added: number }>;
  /** `GET /videos/:id/similar`; throws EngineError 404 for an unknown video. */
  similar(videoId: string, k: number): SimilarResponse;
  /** `GET /users/:id`; an unknown user has eventCount 0. With a shared store, call {@link syncUser} first. */
  userInfo(userId: string): UserInfoResponse;
  /**
   * With a shared store (replicas): brings this process's cached state of the user up to date with
   * the store (read-your-writes across replicas); undefined when there is nothing to wait for.
   */
  syncUser?(userId: string): Promise<void> | undefined;
  /** Candidates per source, rows removed per filter and source errors of the last recommend call (for metrics). */
  lastRequestCounts?(): { sources: Record<string, number>; removed: Record<string, number>; errors: readonly string[] };
  /** Flushes and closes durable state. */
  close(): Promise<void>;
}

/** A request the engine refuses; `status` is the HTTP status the server answers with. */
export class EngineError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}
