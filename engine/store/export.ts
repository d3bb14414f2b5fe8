/**
 * Exports the embedded store's state directory as a data directory for the next training run: the
 * data directory the serving bundle was trained on (`base`), plus what the server accepted since —
 * posted videos, profile updates, logged events — in the contract's data format (§1), so that
 * `npm run train -- --data <out>` closes the loop (log → train → bundle → serve).
 *
 * - videos: the base's, then the posted ones it does not have;
 * - users: the base's with each profile update applied in order (a field an update gives replaces
 *   the base's), then users known only from updates;
 * - events: the base's, then the logged ones in log order, except those whose eventId the base
 *   already has (an earlier export) and those naming a video neither has.
 *
 * The engine gives an event posted without an eventId one (`srv-<uuid>`), so every logged event
 * can be told apart from its copy in a later base or bundle. Only a log written before it did may
 * hold events without one: exported on top of a base that already has them, or replayed on top of
 * a bundle trained on them, those count twice; the report counts them.
 *
 * The state directory is opened as the server opens it (it takes the log's lock: stop the server,
 * or export a copy of the directory); `out` must not exist.
 */
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeJsonl } from '../io/jsonl.js';
import { readDataRecords } from '../io/load.js';
import { eventSchema, userSchema, videoSchema, type EventRecord, type UserRecord, type VideoRecord } from '../schema/records.js';
import { EmbeddedUserStore } from './embedded-user-store.js';

export interface ExportReport {
  readonly videos: { readonly base: number; readonly posted: number };
  readonly users: { readonly base: number; readonly updated: number; readonly added: number };
  readonly events: {
    readonly base: number;
    readonly logged: number;
    /** Logged events whose eventId the base already has (left out). */
    readonly alreadyInBase: number;
    /** Logged events naming a video neither the base nor the posted videos have (left out). */
    readonly unknownVideo: number;
    /** Logged events exported without an eventId (see the module's note). */
    readonly withoutEventId: number;
  };
}

export async function exportState(opts: { stateDir: string; base: string; out: string }): Promise<ExportReport> {
  if (await stat(opts.out).then(() => true, () => false)) throw new Error(`${opts.out} already exists; the export writes a new directory`);
  await stat(join(opts.stateDir, 'events')).catch(() => {
    throw new Error(`${opts.stateDir} is not a state directory (no events/ log in it)`);
  });
  const [videos, users, events] = [
    await readDataRecords(opts.base, 'videos', videoSchema),
    await readDataRecords(opts.base, 'users', userSchema),
    await readDataRecords(opts.base, 'events', eventSchema),
  ];
  const store = await EmbeddedUserStore.open(opts.stateDir, () => undefined);
  let posted: VideoRecord[];
  let profiles: UserRecord[];
  const logged: EventRecord[] = [];
  try {
    posted = await store.postedVideos();
    profiles = await store.postedProfiles();
    await store.replayEvents((batch) => {
      for (const ev of batch) logged.push(ev);
    });
  } finally {
    await store.close();
  }

  const videoIds = new Set(videos.map((v) => v.id));
  const newVideos: VideoRecord[] = [];
  for (const v of posted) {
    if (videoIds.has(v.id)) continue;
    videoIds.add(v.id);
    newVideos.push(v);
  }
  const userAt = new Map(users.map((u, i) => [u.id, i]));
  const merged = users.slice();
  const updated = new Set<string>();
  let added = 0;
  for (const p of profiles) {
    const i = userAt.get(p.id);
    if (i === undefined) {
      userAt.set(p.id, merged.length);
      merged.push(p);
      added++;
      continue;
    }
    const fields = Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as Partial<UserRecord>;
    merged[i] = { ...merged[i], ...fields };
    if (i < users.length) updated.add(p.id);
  }
  const baseIds = new Set<string>();
  for (const e of events) if (e.eventId !== undefined) baseIds.add(e.eventId);
  let alreadyInBase = 0;
  let unknownVideo = 0;
  let withoutEventId = 0;
  const newEvents: EventRecord[] = [];
  for (const e of logged) {
    if (e.eventId !== undefined && baseIds.has(e.eventId)) alreadyInBase++;
    else if (!videoIds.has(e.videoId)) unknownVideo++;
    else {
      if (e.eventId === undefined) withoutEventId++;
      newEvents.push(e);
    }
  }

  // Written beside `out`, then renamed: a failed export leaves no half data directory.
  const tmp = `${opts.out}.tmp-${process.pid}`;
  await mkdir(tmp, { recursive: true });
  try {
    await writeJsonl(join(tmp, 'videos.jsonl'), [...videos, ...newVideos]);
    await writeJsonl(join(tmp, 'users.jsonl'), merged);
    await writeJsonl(join(tmp, 'events.jsonl'), [...events, ...newEvents]);
    await rename(tmp, opts.out);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return {
    videos: { base: videos.length, posted: newVideos.length },
    users: { base: users.length, updated: updated.size, added },
    events: { base: events.length, logged: newEvents.length, alreadyInBase, unknownVideo, withoutEventId },
  };
}
