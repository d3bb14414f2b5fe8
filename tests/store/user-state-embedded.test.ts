/** The embedded user-state store (EventLog + journals in a state directory) against the conformance suite. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedUserStore } from '../../engine/store/embedded-user-store.js';
import { userStateStoreConformance } from './user-state.conformance.js';

userStateStoreConformance('embedded (event log + journals)', {
  shared: false,
  async fresh(recentEntries) {
    const dir = await mkdtemp(join(tmpdir(), 'feedrank-userstore-'));
    return {
      open: () => EmbeddedUserStore.open(dir, (videoId) => `c-${videoId.split('_')[0]}`, { recentEntries }),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
});
