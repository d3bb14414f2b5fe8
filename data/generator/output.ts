/**
 * Writing a generated world: JSON Lines in the contract's format (contract §1), and truth.json in
 * the format of `data/truth.ts`. Lines are built by hand (every id and tag is generated from
 * `[A-Za-z0-9_.:-]`, so nothing needs escaping; asserted below) and written in large synchronous
 * chunks, which is both fast and keeps the output independent of any scheduling.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { EVENT_NAMES } from '../../engine/io/dataset.js';
import type { DayEvents } from './simulate.js';
import { DIM, type World } from './world.js';

const SAFE = /^[A-Za-z0-9_.:-]+$/;
const FLUSH_BYTES = 1 << 20;

/**
 * Appends text to a file through a 1 MiB buffer. Everything the generator writes is ASCII (ids and
 * tags of `[A-Za-z0-9_.:-]`, numbers, JSON punctuation), so text is copied into the buffer as
 * latin1, byte for byte, without building large strings.
 */
export class LineWriter {
  private readonly fd: number;
  private readonly buf = Buffer.allocUnsafe(FLUSH_BYTES);
  private pos = 0;
  bytes = 0;
  lines = 0;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
  }

  write(text: string): void {
    if (this.pos + text.length > this.buf.length) this.flush();
    if (text.length > this.buf.length) {
      this.bytes += writeSync(this.fd, Buffer.from(text, 'latin1'));
      return;
    }
    this.pos += this.buf.write(text, this.pos, 'latin1');
  }

  line(text: string): void {
    this.write(text + '\n');
    this.lines++;
  }

  flush(): void {
    let off = 0;
    while (off < this.pos) off += writeSync(this.fd, this.buf, off, this.pos - off);
    this.bytes += this.pos;
    this.pos = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

function str(s: string): string {
  if (!SAFE.test(s)) throw new Error(`generator produced an unsafe string: ${JSON.stringify(s)}`);
  return `"${s}"`;
}

function strArray(items: readonly string[]): string {
  return `[${items.map(str).join(',')}]`;
}

export function writeVideos(world: World, out: LineWriter): void {
  const { videos, creators, sounds } = world;
  for (let v = 0; v < videos.count; v++) {
    const s = videos.sound[v];
    out.line(
      `{"id":${str(videos.ids[v])},"creatorId":${str(creators.ids[videos.creator[v]])},"soundId":${s < 0 ? 'null' : str(sounds.ids[s])},` +
        `"tags":${strArray(videos.tags[v])},"durationMs":${videos.durationMs[v]},"createdAt":${videos.createdAt[v]}}`,
    );
  }
}

export function writeUsers(world: World, out: LineWriter): void {
  const { users, creators } = world;
  for (let u = 0; u < users.count; u++) {
    const declared = users.declared[u];
    const follows = Array.from(users.follows[u], (c) => creators.ids[c]);
    out.line(
      `{"id":${str(users.ids[u])},"createdAt":${users.createdAt[u]}` +
        (declared ? `,"interests":${strArray(declared)}` : '') +
        `,"follows":${strArray(follows)}}`,
    );
  }
}

/** Writes one day's events in time order; returns the next event number. */
export function writeEvents(world: World, day: DayEvents, out: LineWriter, firstEventNumber: number): number {
  const order = day.order();
  const userIds = world.users.ids;
  const videoIds = world.videos.ids;
  let n = firstEventNumber;
  for (let k = 0; k < order.length; k++) {
    const i = order[k];
    const type = day.type[i];
    // Ids are generated safe; skip the per-field check in this hot loop.
    out.line(
      `{"userId":"${userIds[day.user[i]]}","videoId":"${videoIds[day.video[i]]}","ts":${day.ts[i]},"type":"${EVENT_NAMES[type]}"` +
        (type === 0 ? `,"watchMs":${day.watchMs[i]}` : '') +
        `,"eventId":"e${n}"}`,
    );
    n++;
  }
  return n;
}

/** truth.json: `TruthFile` (data/truth.ts), plus a few extra fields for the record. */
export function writeTruth(world: World, out: LineWriter): void {
  const { params, topics, users, videos } = world;
  const head = {
    seed: params.seed,
    dim: DIM,
    topics: topics.count,
    params: { users: params.users, videos: params.videos, days: params.days, startMs: world.startMs, endMs: world.endMs },
    topicNames: topics.names,
  };
  out.write(JSON.stringify(head).slice(0, -1) + ',\n"users":[\n');
  for (let u = 0; u < users.count; u++) {
    const rec = { id: users.ids[u], topics: Array.from(users.topics[u]), vectors: Array.from(users.vecs[u]) };
    out.write(JSON.stringify(rec) + (u + 1 < users.count ? ',\n' : '\n'));
  }
  out.write('],\n"videos":[\n');
  for (let v = 0; v < videos.count; v++) {
    const rec = { id: videos.ids[v], topic: videos.topic[v], vector: Array.from(videos.vec[v]), quality: videos.quality[v] };
    out.write(JSON.stringify(rec) + (v + 1 < videos.count ? ',\n' : '\n'));
  }
  out.write(']}\n');
}
