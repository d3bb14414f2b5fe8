/**
 * The contract's records (contract §1) and HTTP bodies (contract §3), defined once.
 *
 * The data loader and the HTTP server both validate with these schemas, so a record that is
 * valid in `events.jsonl` is valid in `POST /events` and vice versa. Unknown fields are
 * ignored (stripped), as the contract says. Every message names the rule, so that the
 * formatted error reads `events.jsonl:1843: watchMs must be an integer >= 0`.
 */
import { z } from 'zod';

/** 1–128 chars of `[A-Za-z0-9_.:-]`: every id in the contract (videos, users, creators, sounds). */
export const ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
const ID_RULE = 'must be a string of 1-128 chars of [A-Za-z0-9_.:-]';

/** Largest magnitude an epoch-ms timestamp may take (year ~2286); keeps arithmetic exact. */
const MAX_EPOCH_MS = 9_999_999_999_999;
/** Longest tag list on a video, and the longest tag (contract §1). */
export const MAX_TAGS = 32;
export const MAX_TAG_LENGTH = 64;
/** Upper bound on list fields that the contract leaves open, so one record cannot exhaust memory. */
export const MAX_LIST = 10_000;
/** Upper bound on the length of an outside content embedding. */
export const MAX_EMBEDDING_DIM = 4096;

export const EVENT_TYPES = ['view', 'like', 'share', 'comment', 'follow', 'not_interested'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const idSchema = z.string({ error: ID_RULE }).regex(ID_PATTERN, { error: ID_RULE });

const EPOCH_RULE = 'must be an integer (epoch ms)';
const epochMs = () =>
  z
    .number({ error: EPOCH_RULE })
    .int({ error: EPOCH_RULE })
    .min(-MAX_EPOCH_MS, { error: EPOCH_RULE })
    .max(MAX_EPOCH_MS, { error: EPOCH_RULE });

/** A JSON object; anything else (array, number, null) is named as such. */
const OBJECT_RULE = { error: 'must be a JSON object' };

const tagSchema = z
  .string({ error: `must be a string of 1-${MAX_TAG_LENGTH} chars` })
  .min(1, { error: `must be a string of 1-${MAX_TAG_LENGTH} chars` })
  .max(MAX_TAG_LENGTH, { error: `must be a string of 1-${MAX_TAG_LENGTH} chars` });

export const videoSchema = z.object({
  id: idSchema,
  creatorId: idSchema,
  soundId: idSchema.nullable().optional(),
  tags: z
    .array(tagSchema, { error: `must be an array of 0-${MAX_TAGS} tags` })
    .max(MAX_TAGS, { error: `must be an array of 0-${MAX_TAGS} tags` }),
  durationMs: z
    .number({ error: 'must be an integer > 0' })
    .int({ error: 'must be an integer > 0' })
    .positive({ error: 'must be an integer > 0' })
    .max(Number.MAX_SAFE_INTEGER, { error: 'must be an integer > 0' }),
  createdAt: epochMs(),
  embedding: z
    .array(z.number({ error: 'must be a finite number' }).finite({ error: 'must be a finite number' }), {
      error: 'must be an array of finite numbers',
    })
    .min(1, { error: 'must have at least 1 number' })
    .max(MAX_EMBEDDING_DIM, { error: `must have at most ${MAX_EMBEDDING_DIM} numbers` })
    .optional(),
}, OBJECT_RULE);
export type VideoRecord = z.infer<typeof videoSchema>;

export const userSchema = z.object({
  id: idSchema,
  createdAt: epochMs().optional(),
  interests: z
    .array(tagSchema, { error: 'must be an array of tags' })
    .max(MAX_LIST, { error: `must have at most ${MAX_LIST} entries` })
    .optional(),
  follows: z
    .array(idSchema, { error: 'must be an array of creator ids' })
    .max(MAX_LIST, { error: `must have at most ${MAX_LIST} entries` })
    .optional(),
}, OBJECT_RULE);
export type UserRecord = z.infer<typeof userSchema>;

const watchMsSchema = z
  .number({ error: 'must be an integer >= 0' })
  .int({ error: 'must be an integer >= 0' })
  .min(0, { error: 'must be an integer >= 0' })
  .max(Number.MAX_SAFE_INTEGER, { error: 'must be an integer >= 0' });

export const eventSchema = z
  .object({
    userId: idSchema,
    videoId: idSchema,
    ts: epochMs(),
    type: z.enum(EVENT_TYPES, { error: `must be one of ${EVENT_TYPES.join(', ')}` }),
    watchMs: watchMsSchema.optional(),
    eventId: idSchema.optional(),
  }, OBJECT_RULE)
  .superRefine((e, ctx) => {
    if (e.type === 'view' && e.watchMs === undefined) {
      ctx.addIssue({ code: 'custom', path: ['watchMs'], message: 'must be an integer >= 0 (required for view)' });
    }
  });
export type EventRecord = z.infer<typeof eventSchema>;

// ---------------------------------------------------------------------------------------------
// HTTP bodies (contract §3). Strict numbers: a `k` of "10" in a JSON body is a string, an error.

export const MAX_BATCH = 1000;
export const MAX_K = 100;
export const DEFAULT_K = 20;

const kSchema = z
  .number({ error: `must be an integer 1-${MAX_K}` })
  .int({ error: `must be an integer 1-${MAX_K}` })
  .min(1, { error: `must be an integer 1-${MAX_K}` })
  .max(MAX_K, { error: `must be an integer 1-${MAX_K}` });

const batch = <T extends z.ZodType>(item: T, what: string) =>
  z
    .array(item, { error: `must be an array of 1-${MAX_BATCH} ${what}` })
    .min(1, { error: `must be an array of 1-${MAX_BATCH} ${what}` })
    .max(MAX_BATCH, { error: `must be an array of 1-${MAX_BATCH} ${what}` });

export const recommendBodySchema = z.object(
  {
  userId: idSchema,
  k: kSchema.default(DEFAULT_K),
  exclude: z
    .array(idSchema, { error: 'must be an array of video ids' })
    .max(MAX_BATCH, { error: `must have at most ${MAX_BATCH} ids` })
    .default([]),
  },
  OBJECT_RULE,
);
export type RecommendRequest = z.infer<typeof recommendBodySchema>;

/** Query strings carry text: `k` is parsed from its decimal form, and must be exactly that. */
const kQuerySchema = z
  .string({ error: `must be an integer 1-${MAX_K}` })
  .regex(/^[0-9]{1,3}$/, { error: `must be an integer 1-${MAX_K}` })
  .transform(Number)
  .pipe(kSchema);

export const recommendQuerySchema = z.object({
  userId: idSchema,
  k: kQuerySchema.default(DEFAULT_K),
});

export const similarQuerySchema = z.object({ k: kQuerySchema.default(DEFAULT_K) });

export const eventsBodySchema = z.object({ events: batch(eventSchema, "events") }, OBJECT_RULE);
export const usersBodySchema = z.object({ users: batch(userSchema, "users") }, OBJECT_RULE);
export const videosBodySchema = z.object({ videos: batch(videoSchema, "videos") }, OBJECT_RULE);

/** Formats the first issue of a failed parse as `field.path message`, for errors that name the field. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'is invalid';
  const path = issue.path.map(String).join('.');
  return path ? `${path} ${issue.message}` : issue.message;
}
