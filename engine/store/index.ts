/** The embedded store's durable event log (see eventlog.ts; on-disk format in format.ts and snapshot.ts). */
export {
  EventLog,
  type EventLogLogger,
  type EventLogOptions,
  type EventLogStats,
  type FaultPoint,
  type LogEntry,
  type RecoveryReport,
  type ReplayOptions,
  type ReplaySummary,
  type SnapshotInfo,
} from './eventlog.js';
export { EventLogError, type EventLogErrorCode } from './errors.js';
export {
  EVENT_IDS_PER_USER,
  RECENT_ENTRIES,
  StoreUnavailableError,
  type AppendResult,
  type StoreEntry,
  type StoreWatcher,
  type UserRead,
  type UserStateStore,
  type VersionStep,
} from './user-state-store.js';
export { EmbeddedUserStore, type EmbeddedStoreOptions } from './embedded-user-store.js';
export { RedisUserStore, type RedisStoreOptions } from './redis-user-store.js';
