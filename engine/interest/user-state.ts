/**
 * Everything the online engine keeps per user, derived from that user's events (the source of
 * truth): the taste profile, the videos already viewed (never recommended again), creators marked
 * not_interested (hidden until a time), the last few responses (a refreshed feed must not repeat
 * itself), declared sign-up interests, and the number of distinct events accepted.
 */
import { notInterestedConfig } from '../config.js';
import type { VideoCatalog } from '../features/catalog.js';
import { EVENT_CODE } from '../io/dataset.js';
import { IntSet } from '../serve/intset.js';
import { applyEvent, createProfile, type UserProfile } from './profile.js';

/** Videos remembered from the user's recent responses (about the last three pages of 100). */
export const SERVED_MEMORY = 300;

export interface UserState {
  readonly profile: UserProfile;
  readonly seen: IntSet;
  /**
   * Creator → event time until which its videos are hidden. Read-only here: written through
   * {@link hideCreatorUntil} (a user without marks, most of them, shares one empty map).
   */
  notInterested: ReadonlyMap<number, number>;
  /**
   * Ring buffer of recently served video indices (-1 = empty slot); empty until the user is first
   * served, so that users who are never served (most of a large bundle's) do not hold one, and
   * grown with what is served (see {@link rememberServed}).
   */
  served: Int32Array;
  servedNext: number;
  /** Declared sign-up interests (dense tag indices). */
  declared: number[];
  eventCount: number;
  /** The user-state store version this state reflects (shared stores; see engine/store/user-state-store.ts). */
  version: number;
}

/** The not_interested marks of a user without any (shared; typed read-only so that nothing writes it). */
const NO_MARKS: ReadonlyMap<number, number> = new Map();

/** The served ring of a user not served yet (shared, never written: rememberServed allocates a ring first). */
const NOT_SERVED = new Int32Array(0);

export function createUserState(dim: number): UserState {
  return {
    profile: createProfile(dim),
    seen: new IntSet(),
    notInterested: NO_MARKS,
    served: NOT_SERVED,
    servedNext: 0,
    declared: [],
    eventCount: 0,
    version: 0,
  };
}

/** Applies one event: profile update, viewed set, not_interested mark. */
export function applyUserEvent(s: UserState, cat: VideoCatalog, v: number, type: number, watchMs: number, ts: number): void {
  s.eventCount++;
  if (type === EVENT_CODE.view) s.seen.add(v);
  if (type === EVENT_CODE.not_interested) {
    hideCreatorUntil(s, cat.creator[v], ts + notInterestedConfig.durationMs);
  }
  applyEvent(s.profile, cat, v, type, watchMs, ts);
}

/** Hides creator c's videos from the user until `until` (event time), unless a later mark already does. */
export function hideCreatorUntil(s: UserState, c: number, until: number): void {
  if (!((s.notInterested.get(c) ?? -Infinity) < until)) return;
  const marks = s.notInterested === NO_MARKS ? new Map<number, number>() : (s.notInterested as Map<number, number>);
  marks.set(c, until);
  s.notInterested = marks;
}

/** True when the user's not_interested mark on creator c is still in force at time ts. */
export function hidesCreator(s: UserState, c: number, ts: number): boolean {
  const until = s.notInterested.get(c);
  return until !== undefined && until > ts;
}

/**
 * Remembers the videos of a response, so the next page does not repeat them. The ring grows with
 * what was served, up to SERVED_MEMORY (a user or visitor served one page of 20 holds 80 bytes,
 * not 1.2 KB): until then it is filled from 0 without wrapping, so it holds what a full-size ring
 * would.
 */
export function rememberServed(s: UserState, videos: ArrayLike<number>, n: number): void {
  if (n <= 0) return;
  if (s.served.length < SERVED_MEMORY && s.servedNext + n > s.served.length) {
    const grown = new Int32Array(Math.min(SERVED_MEMORY, Math.max(s.servedNext + n, 2 * s.served.length))).fill(-1);
    grown.set(s.served);
    s.served = grown;
  }
  for (let i = 0; i < n; i++) {
    s.served[s.servedNext] = videos[i];
    s.servedNext = s.servedNext + 1 === SERVED_MEMORY ? 0 : s.servedNext + 1;
  }
}

/** True when v was served in one of the user's recent responses. Linear in SERVED_MEMORY; called per candidate. */
export function wasServed(s: UserState, v: number): boolean {
  return s.served.includes(v);
}
