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
