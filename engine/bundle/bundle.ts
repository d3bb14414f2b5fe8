/**
 * The artifact bundle: everything the server needs to start without training or rebuilding.
 *
 *   manifest.json   version, createdAt, embeddingDim, counts, metrics, featureSpecHash, model
 *                   dimensions, training settings, and every file's byte length and SHA-256
 *   ids.json        string ids of videos, users, creators, sounds, tags (dense index = position)
 *   catalog.bin     per-video columns + the video vectors (video tower output)
 *   users.bin       per-user profile columns (declared interests, follows)
 *   events.bin      every event of the data directory (hold-out included), sorted by ts
 *   tower.bin       video tower weights (the server embeds POST /videos with it)
 *   ranker.json     ranker weights (standardisation folded in)
 *   index.ann(.json) the HNSW index over the video vectors, with its own sidecar
 *   report.html     the human evaluation report
 *
 * Written into a temporary sibling directory and renamed into place, so a half-written bundle is
 * never seen; read back with every file's digest checked and the feature-spec hash compared to
 * this code's, so a corrupt or mismatched bundle is refused with a clear message.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { FEATURE_SPEC_HASH } from '../features/features.js';
import type { Dataset, EventTable, UserTable, VideoTable } from '../io/dataset.js';
import { Interner } from '../io/interner.js';
import { rankerFromJSON, rankerToJSON, type RankerWeights } from '../ranking/model.js';
import { digestFile } from '../retrieval/persist.js';
import { VideoTowerWeights } from '../embedding/weights.js';
import { column, parseColumns, writeColumns } from './columns.js';

export const BUNDLE_FORMAT_VERSION = '1';

const fileEntrySchema = z.object({ bytes: z.number().int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) });

export const manifestSchema = z.looseObject({
  version: z.string(),
  createdAt: z.string(),
  embeddingDim: z.number().int().positive(),
  counts: z.looseObject({ videos: z.number().int().nonnegative(), users: z.number().int().nonnegative(), events: z.number().int().nonnegative() }),
  metrics: z.record(z.string(), z.unknown()),
  featureSpecHash: z.string(),
  files: z.record(z.string(), fileEntrySchema),
});
export type Manifest = z.infer<typeof manifestSchema>;

/** What training hands over to be written. */
export interface BundleContent {
  /** Manifest fields beyond those computed here (metrics, model dims, training settings, …). */
  readonly manifest: { metrics: Record<string, unknown> } & Record<string, unknown>;
  readonly dataset: Dataset;
  readonly vectors: Float32Array;
  readonly dim: number;
  readonly tower: Buffer;
  readonly ranker: RankerWeights;
  /** Writes the ANN index to the given path (plus its sidecar). */
  readonly saveIndex: (path: string) => Promise<void>;
  readonly reportHtml?: string;
}

/** A bundle read back from disk. */
export interface LoadedBundle {
  readonly dir: string;
  readonly manifest: Manifest;
  readonly dataset: Dataset;
  readonly vectors: Float32Array;
  readonly dim: number;
  /** The video tower's content part (the server embeds POST /videos with it); the file itself is not kept. */
  readonly tower: VideoTowerWeights;
  readonly ranker: RankerWeights;
  readonly indexPath: string;
  /** Every file the manifest lists, hashed while reading: absolute path → SHA-256 (the index loader skips re-hashing them). */
  readonly verified: ReadonlyMap<string, string>;
}

export const INDEX_FILE = 'index.ann';

/** Bundle files the loader reads whole (and hashes as it reads them). */
const READ_WHOLE: ReadonlySet<string> = new Set(['ids.json', 'catalog.bin', 'users.bin', 'events.bin', 'ranker.json', 'tower.bin']);

/** Writes a bundle to `out` atomically (temporary sibling directory, then rename). Returns the manifest. */
export async function writeBundle(out: string, c: BundleContent): Promise<Manifest> {
  const target = resolve(out);
  await mkdir(dirname(target), { recursive: true });
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${Date.now().toString(36)}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp);
  try {
    const ds = c.dataset;
    await writeFile(
      join(tmp, 'ids.json'),
      JSON.stringify({
        videos: ds.videos.ids.ids,
        users: ds.users.ids.ids,
        creators: ds.creators.ids,
        sounds: ds.sounds.ids,
        tags: ds.tags.ids,
      }),
    );
    const v = ds.videos;
    await writeColumns(join(tmp, 'catalog.bin'), {
      creator: v.creator,
      sound: v.sound,
      tagOffsets: v.tagOffsets,
      tagIds: v.tagIds,
      durationMs: v.durationMs,
      createdAt: v.createdAt,
      vectors: c.vectors,
      ...(v.embedding ? { embedding: v.embedding } : {}),
    });
    const u = ds.users;
    await writeColumns(join(tmp, 'users.bin'), {
      hasProfile: u.hasProfile,
      createdAt: u.createdAt,
      interestOffsets: u.interestOffsets,
      interestTagIds: u.interestTagIds,
      followOffsets: u.followOffsets,
      followCreatorIds: u.followCreatorIds,
    });
    const e = ds.events;
    await writeColumns(join(tmp, 'events.bin'), {
      user: e.user.subarray(0, e.count),
      video: e.video.subarray(0, e.count),
      ts: e.ts.subarray(0, e.count),
      type: e.type.subarray(0, e.count),
      watchMs: e.watchMs.subarray(0, e.count),
      ...(e.eventIdHi && e.eventIdLo ? { eventIdHi: e.eventIdHi.subarray(0, e.count), eventIdLo: e.eventIdLo.subarray(0, e.count) } : {}),
    });
    await writeFile(join(tmp, 'tower.bin'), c.tower);
    await writeFile(join(tmp, 'ranker.json'), JSON.stringify(rankerToJSON(c.ranker)));
    await c.saveIndex(join(tmp, INDEX_FILE));
    if (c.reportHtml !== undefined) await writeFile(join(tmp, 'report.html'), c.reportHtml);

    const files: Record<string, { bytes: number; sha256: string }> = {};
    for (const name of ['ids.json', 'catalog.bin', 'users.bin', 'events.bin', 'tower.bin', 'ranker.json', INDEX_FILE, `${INDEX_FILE}.json`]) {
      files[name] = await digestFile(join(tmp, name));
    }
    const manifest: Manifest = {
      version: BUNDLE_FORMAT_VERSION,
      createdAt: new Date().toISOString(),
      embeddingDim: c.dim,
      counts: { videos: v.ids.size, users: u.ids.size, events: e.count },
      ...c.manifest,
      metrics: c.manifest.metrics,
      featureSpecHash: FEATURE_SPEC_HASH,
      files,
    };
    await writeFile(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2));
    // Swap into place: the old bundle (if any) is moved aside first, then removed.
    const old = `${tmp}.old`;
    let hadOld = false;
    try {
      await rename(target, old);
      hadOld = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await rename(tmp, target);
    if (hadOld) await rm(old, { recursive: true, force: true });
    return manifest;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Error for a bundle that cannot be served; the message says which file and why. */
export class BundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BundleError';
  }
}

/**
 * A bundle's manifest, validated (feature-spec hash included), and a reader of its files that
 * checks each against the manifest's size and SHA-256 (recording it in `verified`).
 */
async function openManifest(dir: string) {
  const root = resolve(dir);
  const fail = (why: string): never => {
    throw new BundleError(`bundle ${root}: ${why}`);
  };
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(root, 'manifest.json'), 'utf8'));
  } catch (err) {
    fail(`manifest.json is missing or not valid JSON (${(err as Error).message})`);
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) return fail(`manifest.json is invalid: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`);
  const manifest = parsed.data;
  if (manifest.featureSpecHash !== FEATURE_SPEC_HASH) {
    fail(
      `feature-spec hash ${manifest.featureSpecHash} differs from this code's ${FEATURE_SPEC_HASH}: the bundle was trained with other feature definitions; retrain it`,
    );
  }
  const verified = new Map<string, string>();
  const check = (name: string, got: { bytes: number; sha256: string }): void => {
    const want = manifest.files[name];
    if (got.bytes !== want.bytes) fail(`${name} has ${got.bytes} bytes, the manifest says ${want.bytes} (truncated or replaced)`);
    if (got.sha256 !== want.sha256) fail(`${name} does not match its checksum (corrupt)`);
    verified.set(join(root, name), got.sha256);
  };
  /** A file of the bundle, read whole and checked against the manifest when it lists it. */
  const readChecked = async (name: string): Promise<Buffer<ArrayBuffer>> => {
    let buf: Buffer<ArrayBuffer>;
    try {
      buf = await readFile(join(root, name));
    } catch {
      return fail(`${name} is missing`);
    }
    if (manifest.files[name]) check(name, { bytes: buf.length, sha256: createHash('sha256').update(buf).digest('hex') });
    return buf;
  };
  return { root, manifest, fail, verified, check, readChecked };
}

/**
 * The hashed eventIds of a bundle's events (events.bin's eventIdHi / eventIdLo columns, see
 * engine/io/event-id-hash.ts; 0 / 0 for an event without one), with events.bin checked.
 */
export async function readBundleEventIds(dir: string): Promise<{ hi: Uint32Array; lo: Uint32Array }> {
  const { root, readChecked } = await openManifest(dir);
  const ec = parseColumns(await readChecked('events.bin'), join(root, 'events.bin'));
  if (!ec.eventIdHi) return { hi: new Uint32Array(0), lo: new Uint32Array(0) };
  return { hi: column(ec, 'eventIdHi', Uint32Array, 'events.bin'), lo: column(ec, 'eventIdLo', Uint32Array, 'events.bin') };
}

/** Reads and verifies a bundle (digests, feature-spec hash, shapes). Throws {@link BundleError}. */
export async function readBundle(dir: string): Promise<LoadedBundle> {
  const { root, manifest, fail, verified, check, readChecked } = await openManifest(dir);
  for (const name of Object.keys(manifest.files)) {
    if (basename(name) !== name) fail(`manifest names a file outside the bundle: ${name}`);
    try {
      await stat(join(root, name));
      // The files read whole below are hashed as they are read (one read each, and what is
      // checked is what is parsed); the others (the index) are hashed here.
      if (!READ_WHOLE.has(name)) check(name, await digestFile(join(root, name)));
    } catch (err) {
      if (err instanceof BundleError) throw err;
      return fail(`${name} is missing`);
    }
  }
  try {
    const ids = JSON.parse((await readChecked('ids.json')).toString('utf8')) as Record<string, string[]>;
    const dim = manifest.embeddingDim;
    const catFile = 'catalog.bin';
    const cat = parseColumns(await readChecked(catFile), join(root, catFile));
    const videoIds = new Interner(ids.videos);
    const n = videoIds.size;
    const vectors = column(cat, 'vectors', Float32Array, catFile);
    if (vectors.length !== n * dim) fail(`catalog.bin: vectors hold ${vectors.length} values, expected ${n}×${dim}`);
    const embedding = cat.embedding instanceof Float32Array ? cat.embedding : null;
    const videos: VideoTable = {
      ids: videoIds,
      creator: column(cat, 'creator', Int32Array, catFile),
      sound: column(cat, 'sound', Int32Array, catFile),
      tagOffsets: column(cat, 'tagOffsets', Int32Array, catFile),
      tagIds: column(cat, 'tagIds', Int32Array, catFile),
      durationMs: column(cat, 'durationMs', Float64Array, catFile),
      createdAt: column(cat, 'createdAt', Float64Array, catFile),
      embeddingDim: embedding ? embedding.length / Math.max(1, n) : 0,
      embedding,
    };
    const usersFile = 'users.bin';
    const uc = parseColumns(await readChecked(usersFile), join(root, usersFile));
    const users: UserTable = {
      ids: new Interner(ids.users),
      hasProfile: column(uc, 'hasProfile', Uint8Array, usersFile),
      createdAt: column(uc, 'createdAt', Float64Array, usersFile),
      interestOffsets: column(uc, 'interestOffsets', Int32Array, usersFile),
      interestTagIds: column(uc, 'interestTagIds', Int32Array, usersFile),
      followOffsets: column(uc, 'followOffsets', Int32Array, usersFile),
      followCreatorIds: column(uc, 'followCreatorIds', Int32Array, usersFile),
    };
    const evFile = 'events.bin';
    const ec = parseColumns(await readChecked(evFile), join(root, evFile));
    const user = column(ec, 'user', Int32Array, evFile);
    const events: EventTable = {
      count: user.length,
      user,
      video: column(ec, 'video', Int32Array, evFile),
      ts: column(ec, 'ts', Float64Array, evFile),
      type: column(ec, 'type', Uint8Array, evFile),
      watchMs: column(ec, 'watchMs', Float64Array, evFile),
      ...(ec.eventIdHi ? { eventIdHi: column(ec, 'eventIdHi', Uint32Array, evFile), eventIdLo: column(ec, 'eventIdLo', Uint32Array, evFile) } : {}),
    };
    const dataset: Dataset = {
      tags: new Interner(ids.tags),
      creators: new Interner(ids.creators),
      sounds: new Interner(ids.sounds),
      videos,
      users,
      events,
      report: { files: [], invalidSamples: [] },
    };
    checkShapes(dataset, fail);
    const ranker = rankerFromJSON(JSON.parse((await readChecked('ranker.json')).toString('utf8')));
    if (ranker.featureSpecHash !== FEATURE_SPEC_HASH) fail('ranker.json was trained with other feature definitions');
    // Deserialised here, so the file read (277 MiB at a million videos, mostly per-video id rows the
    // server does not use) is garbage before the engine's replay grows the heap.
    const tower = VideoTowerWeights.deserialize(await readChecked('tower.bin'), { contentOnly: true });
    return { dir: root, manifest, dataset, vectors, dim, tower, ranker, indexPath: join(root, INDEX_FILE), verified };
  } catch (err) {
    if (err instanceof BundleError) throw err;
    return fail((err as Error).message);
  }
}

/** Cross-checks column lengths and index ranges so nothing out of range reaches the engine. */
function checkShapes(ds: Dataset, fail: (why: string) => never): void {
  const nV = ds.videos.ids.size;
  const nU = ds.users.ids.size;
  const v = ds.videos;
  for (const [name, col] of Object.entries({ creator: v.creator, sound: v.sound, durationMs: v.durationMs, createdAt: v.createdAt })) {
    if (col.length !== nV) fail(`catalog.bin: ${name} has ${col.length} rows, expected ${nV}`);
  }
  if (v.tagOffsets.length !== nV + 1 || v.tagOffsets[nV] !== v.tagIds.length) fail('catalog.bin: tag offsets are inconsistent');
  const inRange = (a: Int32Array, lo: number, hi: number) => a.every((x) => x >= lo && x < hi);
  if (!inRange(v.creator, 0, ds.creators.size)) fail('catalog.bin: creator index out of range');
  if (!inRange(v.sound, -1, ds.sounds.size)) fail('catalog.bin: sound index out of range');
  if (!inRange(v.tagIds, 0, ds.tags.size)) fail('catalog.bin: tag index out of range');
  const u = ds.users;
  if (u.hasProfile.length !== nU || u.interestOffsets.length !== nU + 1 || u.followOffsets.length !== nU + 1) {
    fail('users.bin: column lengths do not match ids.json');
  }
  if (!inRange(u.interestTagIds, 0, ds.tags.size) || !inRange(u.followCreatorIds, 0, ds.creators.size)) fail('users.bin: index out of range');
  const e = ds.events;
  const ids = [e.eventIdHi, e.eventIdLo].filter((c) => c !== undefined);
  if (e.video.length !== e.count || e.ts.length !== e.count || e.type.length !== e.count || e.watchMs.length !== e.count || ids.some((c) => c.length !== e.count)) {
    fail('events.bin: column lengths differ');
  }
  if (!inRange(e.user, 0, nU) || !inRange(e.video, 0, nV)) fail('events.bin: user or video index out of range');
}
