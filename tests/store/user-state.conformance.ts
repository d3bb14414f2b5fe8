/**
 * The conformance suite every {@link UserStateStore} passes (run by user-state-embedded.test.ts and
 * user-state-redis.test.ts): idempotent appends with per-user versions, reads since a version
 * (entries, or the whole bounded state when the entries no longer reach back), profiles, posted
 * videos, the replay feed, persistence across a reopen, and for shared stores two clients at once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { EventRecord, UserRecord, VideoRecord } from '../../engine/schema/records.js';
import type { StoreEntry, UserStateStore } from '../../engine/store/user-state-store.js';

export interface StoreBacking {
  /** Opens a client on this backing state (the embedded store: close the previous one first). */
  open(): Promise<UserStateStore>;
  cleanup(): Promise<void>;
}

export interface StoreHarness {
  /** Whether the store is shared by several clients (the two-client test runs only then). */
  readonly shared: boolean;
  /** A fresh, empty backing state whose stores keep `recentEntries` entries per user. */
  fresh(recentEntries: number): Promise<StoreBacking>;
}

const CAP = 8;
const creatorOf = (videoId: string) => `c-${videoId.split('_')[0]}`;

let seq = 0;
function ev(userId: string, videoId: string, type: EventRecord['type'] = 'view', eventId: string | null = `e${seq}`, ts = 1_000_000 + seq): EventRecord {
  seq++;
  const e: EventRecord = { userId, videoId, ts, type, ...(type === 'view' ? { watchMs: 1000 } : {}) } as EventRecord;
  return eventId === null ? e : { ...e, eventId };
}

const creators = (events: readonly EventRecord[]) => events.map((e) => creatorOf(e.videoId));
const append = (s: UserStateStore, events: EventRecord[]) => s.appendEvents(events, creators(events));
const eventsOf = (entries: readonly StoreEntry[]) => entries.map((e) => (e.kind === 'event' ? e.event : null));
const video = (id: string): VideoRecord => ({ id, creatorId: `c-${id}`, soundId: null, tags: ['a', 'b'], durationMs: 1000, createdAt: 5 });

export function userStateStoreConformance(name: string, harness: StoreHarness): void {
  describe(`UserStateStore conformance: ${name}`, () => {
    const opened: UserStateStore[] = [];
    const backings: StoreBacking[] = [];
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
      for (const b of backings.splice(0)) await b.cleanup();
    });
    const fresh = async (cap = CAP) => {
      const b = await harness.fresh(cap);
      backings.push(b);
      const s = await b.open();
      opened.push(s);
      return { b, s };
    };

    it('accepts new events, counts repeated eventIds (earlier or in the batch) as duplicates, and steps versions per user', async () => {
      const { s } = await fresh();
      const a = [ev('u1', 'v_1', 'view', 'x1'), ev('u1', 'v_2', 'like', 'x2'), ev('u2', 'v_1', 'view', 'x3'), ev('u1', 'v_3', 'view', 'x1')];
      const r1 = await append(s, a);
      expect(r1.accepted).toEqual(a.slice(0, 3));
      expect(r1.duplicates).toBe(1);
      expect([...r1.versions.entries()].sort()).toEqual([
        ['u1', { from: 0, to: 2 }],
        ['u2', { from: 0, to: 1 }],
      ]);
      const noId = ev('u1', 'v_4', 'view', null);
      const r2 = await append(s, [ev('u1', 'v_9', 'view', 'x2'), noId, { ...noId }]);
      expect(r2.accepted).toEqual([noId, noId]); // no eventId: never a duplicate
      expect(r2.duplicates).toBe(1);
      expect(r2.versions.get('u1')).toEqual({ from: 2, to: 4 });
      expect(await s.version('u1')).toBe(4);
      expect(await s.version('u2')).toBe(1);
      expect(await s.version('nobody')).toBe(0);
      const r3 = await append(s, [ev('u2', 'v_1', 'view', 'x3')]);
      expect(r3).toMatchObject({ accepted: [], duplicates: 1 });
      expect(r3.versions.size).toBe(0);
    });

    it('reads the entries after a version, or nothing when up to date', async () => {
      const { s } = await fresh();
      const a = [ev('u1', 'v_1'), ev('u1', 'v_2', 'like'), ev('u1', 'v_3', 'share')];
      await append(s, a);
      const all = await s.read('u1', 0);
      expect(all).toMatchObject({ version: 3, eventCount: 3, base: 0 });
      expect(all.rebuild).toBeUndefined();
      expect(eventsOf(all.entries)).toEqual(a);
      const tail = await s.read('u1', 2);
      expect(tail).toMatchObject({ version: 3, base: 2 });
      expect(eventsOf(tail.entries)).toEqual([a[2]]);
      const none = await s.read('u1', 3);
      expect(none.version).toBe(3);
      expect(none.entries).toEqual([]);
      expect(none.rebuild).toBeUndefined();
      const unknown = await s.read('nobody', 0);
      expect(unknown).toMatchObject({ version: 0, entries: [] });
      expect(unknown.rebuild).toBeUndefined();
    });

    it('answers the whole bounded state (all views, latest not_interested per creator, profile) when the entries no longer reach back', async () => {
      const { s } = await fresh();
      await s.putProfiles([{ id: 'u1', interests: ['cats'] }]);
      const views = Array.from({ length: CAP + 5 }, (_, i) => ev('u1', `v${i % 3}_${i}`));
      await append(s, [ev('u1', 'k_1', 'not_interested', 'n1', 10), ev('u1', 'k_2', 'not_interested', 'n2', 30), ev('u1', 'k_3', 'not_interested', 'n3', 20)]);
      await append(s, views);
      const total = 1 + 3 + views.length;
      const r = await s.read('u1', 2);
      expect(r.version).toBe(total);
      expect(r.eventCount).toBe(total - 1);
      expect(r.rebuild).toBeDefined();
      expect(r.entries.length).toBe(CAP);
      expect(r.base).toBe(total - CAP);
      expect(eventsOf(r.entries)).toEqual(views.slice(-CAP));
      expect([...r.rebuild!.viewed].sort()).toEqual(views.map((v) => v.videoId).sort());
      // k_1 and k_3 have the same creator (c-k): the latest ts wins.
      expect(new Map(r.rebuild!.notInterested)).toEqual(new Map([['c-k', 30]]));
      expect(r.rebuild!.profile).toEqual({ id: 'u1', interests: ['cats'] });
      // Within the entries kept: no rebuild.
      const near = await s.read('u1', total - CAP);
      expect(near.rebuild).toBeUndefined();
      expect(near.entries.length).toBe(CAP);
    });

    it('asks for a rebuild when the caller is ahead of the store (the store lost data)', async () => {
      const { s } = await fresh();
      await append(s, [ev('u1', 'v_1')]);
      const r = await s.read('u1', 5);
      expect(r.version).toBe(1);
      expect(r.rebuild).toBeDefined();
      expect(r.rebuild!.viewed).toEqual(['v_1']);
      const lost = await s.read('nobody', 3);
      expect(lost.version).toBe(0);
      expect(lost.rebuild).toBeDefined();
    });

    it('stores profiles as entries that bump the version; the latest profile is kept', async () => {
      const { s } = await fresh();
      await append(s, [ev('u1', 'v_1')]);
      const p1: UserRecord = { id: 'u1', interests: ['a'] };
      const p2: UserRecord = { id: 'u1', interests: ['b'], follows: ['c-x'] };
      const steps = await s.putProfiles([p1, { id: 'u2' }, p2]);
      expect(steps.get('u1')).toEqual({ from: 1, to: 3 });
      expect(steps.get('u2')).toEqual({ from: 0, to: 1 });
      const r = await s.read('u1', 1);
      expect(r.entries).toEqual([
        { kind: 'profile', user: p1 },
        { kind: 'profile', user: p2 },
      ]);
      expect(r.eventCount).toBe(1);
    });

    it('keeps posted videos in order', async () => {
      const { s } = await fresh();
      await s.addVideos([video('n1'), video('n2')]);
      await s.addVideos([video('n3')]);
      expect((await s.postedVideos()).map((v) => v.id)).toEqual(['n1', 'n2', 'n3']);
      expect(await s.postedVideos()).toContainEqual(video('n2'));
    });

    it('keeps everything across a reopen: versions, duplicates, entries, videos, the replay feed', async () => {
      const { b, s } = await fresh();
      const a = [ev('u1', 'v_1', 'view', 'p1'), ev('u2', 'v_2', 'like', 'p2')];
      const c = [ev('u1', 'v_3', 'share', 'p3')];
      await append(s, a);
      await append(s, c);
      await s.putProfiles([{ id: 'u3', interests: ['z'] }]);
      await s.addVideos([video('w1')]);
      await s.close();
      opened.splice(opened.indexOf(s), 1);
      const s2 = await b.open();
      opened.push(s2);
      expect(await s2.version('u1')).toBe(2);
      expect(await s2.version('u3')).toBe(1);
      expect(eventsOf((await s2.read('u1', 0)).entries)).toEqual([a[0], c[0]]);
      expect((await append(s2, [...a, ...c])).duplicates).toBe(3);
      expect((await s2.postedVideos()).map((v) => v.id)).toEqual(['w1']);
      const replayed: EventRecord[] = [];
      await s2.replayEvents((batch) => replayed.push(...batch));
      expect(replayed.sort((x, y) => x.ts - y.ts)).toEqual([...a, ...c]);
      if (!s2.shared) expect(await s2.postedProfiles()).toEqual([{ id: 'u3', interests: ['z'] }]);
    });

    it('reports whether it is shared', async () => {
      const { s } = await fresh();
      expect(s.shared).toBe(harness.shared);
    });

    // One process owns the embedded store (its state directory is locked): two clients only for shared stores.
    if (harness.shared) it('two clients of a shared store: each eventId accepted once, and each hears the other’s events and videos', async () => {
      const { b, s } = await fresh();
      const s2 = await b.open();
      opened.push(s2);
      const heard: { events: EventRecord[]; videos: string[] } = { events: [], videos: [] };
      s2.watch({ events: (e) => heard.events.push(...e), videos: (v) => heard.videos.push(...v.map((x) => x.id)) });
      const batches = Array.from({ length: 20 }, (_, i) => Array.from({ length: 5 }, (_, j) => ev(`w${j}`, 'v_1', 'view', `same-${i}-${j}`)));
      const results = await Promise.all(batches.flatMap((batch) => [append(s, batch), append(s2, batch.map((e) => ({ ...e })))]));
      expect(results.reduce((n, r) => n + r.accepted.length, 0)).toBe(100);
      expect(results.reduce((n, r) => n + r.duplicates, 0)).toBe(100);
      for (let j = 0; j < 5; j++) expect(await s.version(`w${j}`)).toBe(20);
      const own = [ev('solo', 'v_1', 'like', 'solo-1')];
      await append(s, own);
      await s.addVideos([video('shared-1')]);
      const deadline = Date.now() + 3000;
      while ((heard.videos.length === 0 || !heard.events.some((e) => e.eventId === 'solo-1')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(heard.videos).toEqual(['shared-1']);
      expect(heard.events).toContainEqual(own[0]);
      // Its own appends are not echoed back to it.
      const accepted2 = new Set(results.filter((_, i) => i % 2 === 1).flatMap((r) => r.accepted.map((e) => e.eventId)));
      expect(heard.events.filter((e) => accepted2.has(e.eventId))).toEqual([]);
    });
  });
}
