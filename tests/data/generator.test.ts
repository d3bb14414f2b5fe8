import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommanderError } from 'commander';
import { eventSchema, userSchema, videoSchema } from '../../engine/schema/records.js';
import { loadDataset } from '../../engine/io/load.js';
import { buildProgram } from '../../data/generate.js';
import { DAY_MS, DEFAULTS, FILES, START_MS, generate, type GenerateStats } from '../../data/generator/index.js';
import { Rng } from '../../data/generator/rng.js';
import { GENERIC_TAGS } from '../../data/generator/vocab.js';
import { loadWorld, measure, type LoadedWorld, type WorldStats } from './world-stats.js';

const run = promisify(execFile);
const tmp = mkdtempSync(join(tmpdir(), 'feedrank-generator-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function lines(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  expect(text.endsWith('\n') || text === '').toBe(true);
  return text === '' ? [] : text.slice(0, -1).split('\n');
}

describe('rng', () => {
  it('is deterministic per seed and stream, and uniform enough', () => {
    const a = new Rng(42, 1);
    const b = new Rng(42, 1);
    const c = new Rng(42, 2);
    const xs = Array.from({ length: 1000 }, () => a.next());
    expect(Array.from({ length: 1000 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 1000 }, () => c.next())).not.toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.03);
    const big = new Rng(2 ** 40 + 5);
    const big2 = new Rng(5);
    expect(big.next()).not.toBe(big2.next());
  });
});

describe('generator at the default scale (2000 users x 20000 videos x 7 days)', () => {
  const dir = join(tmp, 'default');
  let stats: GenerateStats;
  let world: LoadedWorld;
  let measured: WorldStats;

  beforeAll(async () => {
    stats = await generate(DEFAULTS, dir);
    world = loadWorld(dir);
    measured = measure(world);
    console.log(
      `generated ${stats.events} events in ${(stats.elapsedMs / 1000).toFixed(1)} s; stats: ${JSON.stringify(measured)}`,
    );
  });

  it('writes every line in the contract format', () => {
    const videoLines = lines(join(dir, FILES.videos));
    const userLines = lines(join(dir, FILES.users));
    const eventLines = lines(join(dir, FILES.events));
    expect(videoLines).toHaveLength(DEFAULTS.videos);
    expect(userLines).toHaveLength(DEFAULTS.users);
    expect(eventLines).toHaveLength(stats.events);
    // Every line parses, validates, and holds nothing the schema would strip (no extra fields).
    const invalid = (schema: typeof videoSchema | typeof userSchema | typeof eventSchema, all: string[]) =>
      all.filter((l) => {
        const raw = JSON.parse(l) as object;
        const r = schema.safeParse(raw);
        return !r.success || Object.keys(r.data).length !== Object.keys(raw).length;
      });
    expect(invalid(videoSchema, videoLines)).toEqual([]);
    expect(invalid(userSchema, userLines)).toEqual([]);
    expect(invalid(eventSchema, eventLines)).toEqual([]);
  });

  it('is read back by the real loader with zero errors, every line a record', async () => {
    const ds = await loadDataset(dir);
    expect(ds.videos.ids.size).toBe(DEFAULTS.videos);
    expect(ds.users.ids.size).toBe(DEFAULTS.users);
    expect(ds.events.count).toBe(stats.events);
    for (const f of ds.report.files) {
      expect(f.invalid, f.file).toBe(0);
      expect(f.duplicates, f.file).toBe(0);
    }
    expect(ds.report.invalidSamples).toEqual([]);
  });

  it('keeps ids unique and references consistent, in time', () => {
    const { videos, users, events } = world;
    expect(new Set(videos.map((v) => v.id)).size).toBe(videos.length);
    expect(new Set(users.map((u) => u.id)).size).toBe(users.length);
    const video = new Map(videos.map((v) => [v.id, v]));
    const user = new Map(users.map((u) => [u.id, u]));
    const creators = new Set(videos.map((v) => v.creatorId));
    for (const u of users) for (const c of u.follows ?? []) expect(creators.has(c)).toBe(true);
    const endMs = START_MS + DEFAULTS.days * DAY_MS;
    const eventIds = new Set<string>();
    const viewed = new Map<string, number>();
    let prevTs = -Infinity;
    let problems = 0;
    for (const e of events) {
      const v = video.get(e.videoId);
      const u = user.get(e.userId);
      if (!v || !u) {
        problems++;
        continue;
      }
      if (e.ts < v.createdAt || e.ts < (u.createdAt ?? -Infinity) || e.ts < START_MS || e.ts >= endMs) problems++;
      if (e.ts < prevTs) problems++; // written in time order
      prevTs = e.ts;
      if (e.eventId === undefined || eventIds.has(e.eventId)) problems++;
      eventIds.add(e.eventId ?? '');
      const pair = `${e.userId} ${e.videoId}`;
      if (e.type === 'view') {
        if (viewed.has(pair)) problems++; // nobody sees a video twice
        viewed.set(pair, e.ts);
      } else if (!(viewed.get(pair)! <= e.ts)) {
        problems++; // engagement comes with (after) the view
      }
    }
    expect(problems).toBe(0);
    expect(eventIds.size).toBe(events.length);
  });

  it('has uploads, users and events spread over the period, including the last day', () => {
    const { videos, events, users } = world;
    const days = DEFAULTS.days;
    const uploads = new Array<number>(days).fill(0);
    const perDay = new Array<number>(days).fill(0);
    let before = 0;
    for (const v of videos) {
      if (v.createdAt < START_MS) before++;
      else uploads[Math.floor((v.createdAt - START_MS) / DAY_MS)]++;
    }
    for (const e of events) perDay[Math.floor((e.ts - START_MS) / DAY_MS)]++;
    expect(before / videos.length).toBeGreaterThan(0.2);
    for (let d = 0; d < days; d++) {
      expect(uploads[d]).toBeGreaterThan(0.3 * (videos.length - before) / days);
      expect(perDay[d]).toBeGreaterThan(0.5 * events.length / days);
    }
    expect(stats.eventsPerDay).toEqual(perDay);
    // Some users sign up during the simulation, some declare interests, some do not.
    expect(users.some((u) => (u.createdAt ?? 0) >= START_MS)).toBe(true);
    const declared = users.filter((u) => u.interests !== undefined).length / users.length;
    expect(declared).toBeGreaterThan(0.3);
    expect(declared).toBeLessThan(0.8);
    // Durations 5-180 s, 1-8 tags, sound sometimes absent.
    const odd = videos.filter((v) => v.durationMs < 5000 || v.durationMs > 180_000 || v.tags.length < 1 || v.tags.length > 8);
    expect(odd).toEqual([]);
    const noSound = videos.filter((v) => v.soundId === null).length / videos.length;
    expect(noSound).toBeGreaterThan(0.05);
    expect(noSound).toBeLessThan(0.4);
  });

  it('writes a truth file that matches the data files', () => {
    const { truth, videos, users } = world;
    expect(truth.seed).toBe(DEFAULTS.seed);
    expect(truth.topics).toBe(stats.topics);
    expect(truth.users.map((u) => u.id)).toEqual(users.map((u) => u.id));
    expect(truth.videos.map((v) => v.id)).toEqual(videos.map((v) => v.id));
    const unit = (xs: readonly number[], from: number) => Math.abs(Math.hypot(...xs.slice(from, from + truth.dim)) - 1) < 1e-5;
    const badUsers = truth.users.filter(
      (u) =>
        u.topics.length < 1 ||
        u.topics.length > 4 ||
        u.vectors.length !== u.topics.length * truth.dim ||
        u.topics.some((t, j) => t < 0 || t >= truth.topics || !unit(u.vectors, j * truth.dim)),
    );
    expect(badUsers).toEqual([]);
    const badVideos = truth.videos.filter(
      (v) => v.topic < 0 || v.topic >= truth.topics || !(v.quality >= 0 && v.quality <= 1) || v.vector.length !== truth.dim || !unit(v.vector, 0),
    );
    expect(badVideos).toEqual([]);
  });

  it('has creators who specialise, informative topic tags, generic tags without signal, and trending sounds', () => {
    const { videos, truth } = world;
    const topicsOf = (key: (i: number) => readonly string[]) => {
      const m = new Map<string, Map<number, number>>();
      videos.forEach((_, i) => {
        for (const k of key(i)) {
          let c = m.get(k);
          if (!c) m.set(k, (c = new Map()));
          c.set(truth.videos[i].topic, (c.get(truth.videos[i].topic) ?? 0) + 1);
        }
      });
      return m;
    };
    const purity = (c: Map<number, number>) => Math.max(...c.values()) / [...c.values()].reduce((a, b) => a + b, 0);
    // Creators: 1-2 topics each (all of a creator's videos in at most two topics).
    const byCreator = topicsOf((i) => [videos[i].creatorId]);
    expect([...byCreator.values()].every((c) => c.size <= 2)).toBe(true);
    expect(byCreator.size).toBeGreaterThan(DEFAULTS.videos / 40);
    // Tags: a topic's own tags point to the topic; generic tags are spread over all topics.
    const byTag = topicsOf((i) => videos[i].tags);
    const generic = new Set(GENERIC_TAGS);
    let ownPure = 0;
    let own = 0;
    for (const [tag, c] of byTag) {
      const n = [...c.values()].reduce((a, b) => a + b, 0);
      if (generic.has(tag)) {
        if (n >= 200) expect(purity(c), tag).toBeLessThan(0.25);
      } else if (n >= 20) {
        own++;
        if (purity(c) > 0.7) ownPure++;
      }
    }
    expect(ownPure / own).toBeGreaterThan(0.8);
    // Sounds: most are specific to a topic, a few trending ones cross topics.
    const bySound = topicsOf((i) => (videos[i].soundId ? [videos[i].soundId!] : []));
    const crossing = [...bySound.values()].filter((c) => c.size >= 5).length;
    expect(crossing).toBeGreaterThan(0);
    expect(crossing / bySound.size).toBeLessThan(0.2);
  });

  it('gives videos heavy-tailed popularity', () => {
    expect(measured.top1PctViewShare).toBeGreaterThan(0.1);
    expect(measured.viewGini).toBeGreaterThan(0.5);
  });

  it('makes watch time grow with the hidden affinity, with skips and loops', () => {
    expect(measured.watchAffinitySpearman).toBeGreaterThan(0.5);
    expect(measured.watchAffinityPearson).toBeGreaterThan(0.4);
    expect(measured.skipShare).toBeGreaterThan(0.15);
    expect(measured.skipShare).toBeLessThan(0.6);
    expect(measured.loopShare).toBeGreaterThan(0.03);
    expect(measured.loopShare).toBeLessThan(0.3);
    expect(stats.eventsByType.not_interested).toBeGreaterThan(0);
    expect(stats.eventsByType.follow).toBeGreaterThan(0);
  });

  it('has heavy-tailed user activity', () => {
    const perUser = new Map<string, number>();
    for (const e of world.events) perUser.set(e.userId, (perUser.get(e.userId) ?? 0) + 1);
    const counts = [...perUser.values()].sort((a, b) => b - a);
    const top10 = counts.slice(0, Math.round(counts.length / 10)).reduce((a, b) => a + b, 0);
    expect(top10 / world.events.length).toBeGreaterThan(0.35);
    expect(counts[Math.floor(counts.length / 2)]).toBeLessThan(world.events.length / counts.length);
  });

  it('aligns the follow graph only weakly with interests', () => {
    const { users, videos, truth } = world;
    const creatorTopics = new Map<string, Set<number>>();
    videos.forEach((v, i) => {
      let s = creatorTopics.get(v.creatorId);
      if (!s) creatorTopics.set(v.creatorId, (s = new Set()));
      s.add(truth.videos[i].topic);
    });
    const allCreators = [...creatorTopics.keys()];
    let follows = 0;
    let onTopic = 0;
    let chance = 0;
    users.forEach((u, i) => {
      const mine = new Set(truth.users[i].topics);
      const isOn = (c: string) => [...creatorTopics.get(c)!].some((t) => mine.has(t));
      for (const c of u.follows ?? []) {
        follows++;
        if (isOn(c)) onTopic++;
      }
      chance += allCreators.filter(isOn).length / allCreators.length;
    });
    const onTopicShare = onTopic / follows;
    const chanceShare = chance / users.length;
    // Aligned (well above chance), but most follows are off-topic (celebrities, friends).
    expect(onTopicShare).toBeGreaterThan(1.5 * chanceShare);
    expect(onTopicShare).toBeLessThan(0.6);
  });

  it('makes interests predict hold-out engagement far better than the social graph', () => {
    const h = measured.holdout;
    expect(h.users).toBeGreaterThan(300);
    // Per-user AUC over the last day's impressions, label = positive engagement.
    expect(h.aucAffinity).toBeGreaterThan(0.85);
    expect(h.aucAffinity - h.aucFollow).toBeGreaterThan(0.25);
    // Observable interests (tags of earlier positives) also beat the follow graph clearly.
    expect(h.aucTagProfile - h.aucFollow).toBeGreaterThan(0.1);
    expect(h.aucFollow).toBeLessThan(0.65);
  });

  it('is learnable: co-engagement beats popularity on the hold-out by a wide margin', () => {
    const r = measured.recall;
    expect(r.users).toBeGreaterThan(100);
    expect(r.popularity).toBeGreaterThan(0);
    expect(r.userKnn).toBeGreaterThan(2 * r.popularity);
  });
});

describe('determinism and edge cases', () => {
  const small = { users: 300, videos: 3000, days: 3, seed: 7 };
  const read = (dir: string) => Object.values(FILES).map((f) => readFileSync(join(dir, f)));

  it('gives byte-identical files for the same seed and different ones for another seed', async () => {
    const a = join(tmp, 'a');
    const b = join(tmp, 'b');
    const c = join(tmp, 'c');
    await generate(small, a);
    await generate(small, b);
    await generate({ ...small, seed: 8 }, c);
    const [fa, fb, fc] = [read(a), read(b), read(c)];
    fa.forEach((buf, i) => expect(buf.equals(fb[i]), Object.values(FILES)[i]).toBe(true));
    fa.forEach((buf, i) => expect(buf.equals(fc[i]), Object.values(FILES)[i]).toBe(false));
  });

  it('keeps the catalogue when only the number of users changes', async () => {
    const a = join(tmp, 'u1');
    const b = join(tmp, 'u2');
    await generate({ ...small, users: 20 }, a);
    await generate({ ...small, users: 40 }, b);
    expect(readFileSync(join(a, FILES.videos)).equals(readFileSync(join(b, FILES.videos)))).toBe(true);
  });

  it('handles tiny worlds: a user who runs out of videos sees none twice', async () => {
    const dir = join(tmp, 'tiny');
    for (const p of [
      { users: 1, videos: 1, days: 1, seed: 3 },
      { users: 40, videos: 5, days: 4, seed: 3 },
    ]) {
      const s = await generate(p, dir);
      const w = loadWorld(dir);
      expect(w.videos).toHaveLength(p.videos);
      expect(w.users).toHaveLength(p.users);
      expect(w.events).toHaveLength(s.events);
      const views = w.events.filter((e) => e.type === 'view').map((e) => `${e.userId} ${e.videoId}`);
      expect(new Set(views).size).toBe(views.length);
      for (const e of w.events) expect(eventSchema.safeParse(e).success).toBe(true);
    }
  });
});

describe('generate CLI', () => {
  const parse = (args: string[]) => {
    let err = '';
    const program = buildProgram()
      .exitOverride()
      .configureOutput({ writeErr: (s) => (err += s), writeOut: () => {} });
    try {
      program.parse(['node', 'generate', ...args]);
      return { opts: program.opts(), err };
    } catch (e) {
      expect(e).toBeInstanceOf(CommanderError);
      return { opts: null, err };
    }
  };

  it('parses the defaults and validates integers with a clear error', () => {
    expect(parse(['--out', 'x']).opts).toEqual({ out: 'x', ...DEFAULTS });
    expect(parse(['--out', 'x', '--users', '10', '--videos', '20', '--days', '3', '--seed', '0']).opts).toEqual({
      out: 'x',
      users: 10,
      videos: 20,
      days: 3,
      seed: 0,
    });
    for (const [flag, value] of [
      ['--users', '0'],
      ['--users', 'abc'],
      ['--videos', '-5'],
      ['--days', '1.5'],
      ['--days', '1e3'],
      ['--seed', '-1'],
    ]) {
      const { opts, err } = parse(['--out', 'x', flag, value]);
      expect(opts).toBeNull();
      expect(err).toContain(`${flag} must be a`);
    }
    expect(parse([]).err).toMatch(/--out/);
  });

  it('runs end to end and logs plain lines when stdout is not a terminal', async () => {
    const dir = join(tmp, 'cli');
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'data/generate.ts', '--out', dir, '--users', '50', '--videos', '500', '--days', '2', '--seed', '5'],
      { cwd: fileURLToPath(new URL('../..', import.meta.url)) },
    );
    expect(stdout).toMatch(/day 2\/2: /);
    expect(stdout).toMatch(/wrote .* 500 videos .* 50 users, [\d,]+ events/);
    expect(lines(join(dir, FILES.videos))).toHaveLength(500);
    expect(readFileSync(join(dir, FILES.truth), 'utf8').startsWith('{"seed":5,')).toBe(true);
  });
});
