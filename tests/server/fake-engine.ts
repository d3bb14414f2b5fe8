/**
 * An in-memory {@link FeedEngine} for the HTTP tests: state in Maps, every call recorded, and
 * the engine-side rules the server relies on (a batch naming an unknown video is rejected whole,
 * before anything changes; an unknown video is 404 on `similar`).
 */
import type { EventRecord, UserRecord, VideoRecord } from '../../engine/schema/records.js';
import {
  EngineError,
  type FeedEngine,
  type RecommendResponse,
  type SimilarResponse,
  type StageTimings,
  type UserInfoResponse,
} from '../../engine/serve/types.js';

export interface FakeCall {
  readonly method: string;
  readonly args: readonly unknown[];
}

export class FakeEngine implements FeedEngine {
  modelVersion = 'fake-1';
  readonly calls: FakeCall[] = [];
  readonly videos = new Map<string, VideoRecord>();
  readonly users = new Map<string, UserRecord>();
  readonly eventIds = new Set<string>();
  /** userId → accepted events. */
  readonly events = new Map<string, EventRecord[]>();
  closed = false;
  /** When set, the next call throws it (then it is cleared). */
  failNext: unknown;
  /** When set, async calls wait for it before answering. */
  hold: Promise<void> | undefined;

  constructor(videoCount = 50) {
    for (let i = 0; i < videoCount; i++) {
      this.videos.set(`v${i}`, { id: `v${i}`, creatorId: `c${i % 5}`, tags: [`t${i % 7}`], durationMs: 10_000, createdAt: i });
    }
  }

  private enter(method: string, args: unknown[]): void {
    this.calls.push({ method, args });
    if (this.failNext !== undefined) {
      const err = this.failNext;
      this.failNext = undefined;
      throw err;
    }
  }

  callsOf(method: string): FakeCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  async recommend(userId: string, k: number, exclude: readonly string[], timings?: StageTimings): Promise<RecommendResponse> {
    this.enter('recommend', [userId, k, exclude]);
    if (this.hold) await this.hold;
    const seen = new Set((this.events.get(userId) ?? []).map((e) => e.videoId));
    const skip = new Set(exclude);
    const items = [...this.videos.keys()]
      .filter((id) => !seen.has(id) && !skip.has(id))
      .slice(0, k)
      .map((videoId, i) => ({ videoId, score: 1 - i / 1000, source: 'fake', reasons: ['because'] }));
    if (timings) {
      timings.sources = 0.2;
      timings.rank = 0.5;
    }
    return { userId, items, modelVersion: this.modelVersion };
  }

  async ingestEvents(events: readonly EventRecord[]): Promise<{ accepted: number; duplicates: number }> {
    this.enter('ingestEvents', [events]);
    if (this.hold) await this.hold;
    events.forEach((e, i) => {
      if (!this.videos.has(e.videoId)) {
        throw new EngineError(400, 'unknown_video', `events.${i}.videoId names an unknown video: ${e.videoId}`);
      }
    });
    let accepted = 0;
    let duplicates = 0;
    for (const e of events) {
      if (e.eventId !== undefined) {
        if (this.eventIds.has(e.eventId)) {
          duplicates++;
          continue;
        }
        this.eventIds.add(e.eventId);
      }
      const list = this.events.get(e.userId) ?? [];
      list.push(e);
      this.events.set(e.userId, list);
      accepted++;
    }
    return { accepted, duplicates };
  }

  async upsertUsers(users: readonly UserRecord[]): Promise<{ upserted: number }> {
    this.enter('upsertUsers', [users]);
    for (const u of users) this.users.set(u.id, u);
    return { upserted: users.length };
  }

  async addVideos(videos: readonly VideoRecord[]): Promise<{ added: number }> {
    this.enter('addVideos', [videos]);
    for (const v of videos) this.videos.set(v.id, v);
    return { added: videos.length };
  }

  similar(videoId: string, k: number): SimilarResponse {
    this.enter('similar', [videoId, k]);
    if (!this.videos.has(videoId)) throw new EngineError(404, 'not_found', `unknown video: ${videoId}`);
    const items = [...this.videos.keys()]
      .filter((id) => id !== videoId)
      .slice(0, k)
      .map((id, i) => ({ videoId: id, score: 0.9 - i / 1000 }));
    return { videoId, items };
  }

  userInfo(userId: string): UserInfoResponse {
    this.enter('userInfo', [userId]);
    const profile = this.users.get(userId);
    return {
      userId,
      eventCount: this.events.get(userId)?.length ?? 0,
      interests: [],
      topTags: [],
      topCreators: [],
      declared: profile?.interests ?? [],
      follows: profile?.follows ?? [],
    };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
