/**
 * The Redis user-state store against the conformance suite, on a real redis-server (the shared
 * test Redis: FEEDRANK_TEST_REDIS_URL, or one started for this file). Each backing state is a key
 * prefix of its own.
 */
import { afterAll } from 'vitest';
import { RedisUserStore } from '../../engine/store/redis-user-store.js';
import { sharedRedisUrl, stopSharedRedis, uniquePrefix } from '../helpers/redis.js';
import { userStateStoreConformance } from './user-state.conformance.js';

afterAll(stopSharedRedis);

userStateStoreConformance('redis', {
  shared: true,
  async fresh(recentEntries) {
    const url = await sharedRedisUrl();
    const prefix = uniquePrefix('conf');
    return {
      open: () => RedisUserStore.open(url, { prefix, recentEntries }),
      cleanup: async () => undefined,
    };
  },
});
