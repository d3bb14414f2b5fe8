/** The embedded user-state store (EventLog + journals in a state directory) against the conformance suite. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventRecord, UserRecord } from '../../engine/schema/records.js';
import { EmbeddedUserStore } from '../../engine/store/embedded-user-store.js';
import type { StoreEntry } from '../../engine/store/user-state-store.js';
import { mulberry32 } from '../../engine/util/random.js';
import { userStateStoreConformance } from './user-state.conformance.js';

const creatorOf = (videoId: string) => `c-${videoId.split('_')[0]}`;

userStateStoreConformance('embedded (event log + journals)', {
  shared: false,
  async fresh(recentEntries) {
    const dir = await mkdtemp(join(tmpdir(), 'feedrank-userstore-'));
    return {
      open: () => EmbeddedUserStore.open(dir, creatorOf, { recentEntries }),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
});

describe('embedded store: read() derived from the files', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  // Concurrently: every write is started at once and awaited at the end; they apply in call order.
  it.each([false, true])('answers what a model of every entry answers, for random interleavings of events and profiles, before and after a reopen (writes concurrent: %s)', async (concurrent) => {
    const dir = await mkdtemp(join(tmpdir(), 'feedrank-userstore-'));
    dirs.push(dir);
    const cap = 5;
    let store = await EmbeddedUserStore.open(dir, creatorOf, { recentEntries: cap });
    const rng = mulberry32(7);
    const users = ['a', 'b', 'c'];
    /** Every entry of each user, in version order. */
    const model = new Map<string, StoreEntry[]>(users.map((u) => [u, []]));
    let n = 0;
    const writes: Promise<unknown>[] = [];
    const write = async (w: Promise<unknown>) => {
      if (concurrent) writes.push(w);
      else await w;
    };
    for (let step = 0; step < 60; step++) {
      const u = users[Math.floor(rng() * users.length)];
      if (rng() < 0.2) {
        const rec: UserRecord = { id: u, interests: [`t${step}`] };
        await write(store.putProfiles([rec]));
        model.get(u)!.push({ kind: 'profile', user: rec });
      } else {
        const batch: EventRecord[] = [];
        for (let j = 0, m = 1 + Math.floor(rng() * 3); j < m; j++) {
          const type = rng() < 0.15 ? 'not_interested' : 'view';
          const e = { userId: users[Math.floor(rng() * users.length)], videoId: `v${n % 4}_${n}`, ts: 1000 + n, type, eventId: `e${n}`, ...(type === 'view' ? { watchMs: 5 } : {}) } as EventRecord;
          n++;
          batch.push(e);
        }
        await write(store.appendEvents(batch, batch.map((e) => creatorOf(e.videoId))));
        for (const e of batch) model.get(e.userId)!.push({ kind: 'event', event: e });
      }
    }
    await Promise.all(writes);
    const check = async (s: EmbeddedUserStore, all: Map<string, StoreEntry[]>) => {
      for (const u of users) {
        const entries = all.get(u)!;
        const version = entries.length;
        expect(await s.version(u)).toBe(version);
        const events = entries.flatMap((e) => (e.kind === 'event' ? [e.event] : []));
        for (const since of [0, version - cap - 1, version - cap, version - 1, version]) {
          if (since < 0) continue;
          const r = await s.read(u, since);
          expect(r.version).toBe(version);
          expect(r.eventCount).toBe(events.length);
          const base = since >= version - cap ? since : version - cap;
          expect(r.base).toBe(base);
          expect(r.entries).toEqual(entries.slice(base));
          expect(r.rebuild !== undefined).toBe(since < version - cap);
          if (r.rebuild) {
            expect(r.rebuild.viewed).toEqual([...new Set(events.filter((e) => e.type === 'view').map((e) => e.videoId))]);
            const marks = new Map<string, number>();
            for (const e of events) if (e.type === 'not_interested') marks.set(creatorOf(e.videoId), Math.max(marks.get(creatorOf(e.videoId)) ?? -Infinity, e.ts));
            expect(new Map(r.rebuild.notInterested)).toEqual(marks);
            expect(r.rebuild.profile).toEqual(entries.findLast((e) => e.kind === 'profile')?.user ?? null);
          }
        }
      }
    };
    await check(store, model);
    expect([...model.values()].some((es) => es.some((e) => e.kind === 'profile') && es.length > cap + 1)).toBe(true);
    // After a reopen a user's journalled profiles take the first versions, then the logged events.
    await store.close();
    store = await EmbeddedUserStore.open(dir, creatorOf, { recentEntries: cap });
    try {
      const reopened = new Map([...model].map(([u, es]) => [u, [...es.filter((e) => e.kind === 'profile'), ...es.filter((e) => e.kind === 'event')]]));
      await check(store, reopened);
    } finally {
      await store.close();
    }
  });

  it('accepts an eventId once when two concurrent appends carry it, and again after the first append failed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'feedrank-userstore-'));
    dirs.push(dir);
    const store = await EmbeddedUserStore.open(dir, creatorOf);
    try {
      const ev = (id: string, n: number): EventRecord => ({ userId: 'u', videoId: `v1_${n}`, ts: 1000 + n, type: 'view', watchMs: 5, eventId: id });
      const [a, b] = await Promise.all([
        store.appendEvents([ev('x', 1), ev('y', 2)], ['c', 'c']),
        store.appendEvents([ev('x', 3), ev('z', 4)], ['c', 'c']),
      ]);
      expect(a.accepted.map((e) => e.eventId)).toEqual(['x', 'y']);
      expect(b.accepted.map((e) => e.eventId)).toEqual(['z']);
      expect(b.duplicates).toBe(1);
      expect(b.versions.get('u')).toEqual({ from: 2, to: 3 });
      expect(await store.version('u')).toBe(3);
      // A failed append keeps nothing, its eventId included: the retry is accepted.
      const log = (store as unknown as { log: { append: (batch: readonly EventRecord[]) => Promise<number> } }).log;
      const append = log.append.bind(log);
      log.append = () => Promise.reject(new Error('disk full'));
      await expect(store.appendEvents([ev('w', 5)], ['c'])).rejects.toThrow('disk full');
      log.append = append;
      expect(await store.version('u')).toBe(3);
      const retry = await store.appendEvents([ev('w', 6)], ['c']);
      expect(retry.accepted.map((e) => e.eventId)).toEqual(['w']);
      expect(await store.version('u')).toBe(4);
    } finally {
      await store.close();
    }
  });
});
