import { describe, expect, it } from 'vitest';
import { describeIssue, eventSchema, recommendBodySchema, recommendQuerySchema } from '../../engine/schema/records.js';

describe('schema', () => {
  it('requires watchMs on views only', () => {
    expect(eventSchema.safeParse({ userId: 'u', videoId: 'v', ts: 1, type: 'like' }).success).toBe(true);
    const r = eventSchema.safeParse({ userId: 'u', videoId: 'v', ts: 1, type: 'view' });
    expect(r.success).toBe(false);
    if (!r.success) expect(describeIssue(r.error)).toMatch(/^watchMs must be an integer >= 0/);
  });
  it('treats a string k in a JSON body as an error but parses it from a query string', () => {
    expect(recommendBodySchema.safeParse({ userId: 'u', k: '10' }).success).toBe(false);
    expect(recommendQuerySchema.parse({ userId: 'u', k: '10' }).k).toBe(10);
    expect(recommendQuerySchema.safeParse({ userId: 'u', k: '1e1' }).success).toBe(false);
    expect(recommendQuerySchema.safeParse({ userId: 'u', k: '101' }).success).toBe(false);
  });
});
