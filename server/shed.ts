/**
 * Load shedding: a request the server cannot answer in time is better refused at once (503 with
 * `Retry-After`) than queued without bound. Two signals, both O(1) to read on the hot path:
 *
 * - in-flight engine requests (counted by the app around each engine route), bounded by
 *   `maxInFlight`: caps the memory held by queued bodies and the queueing delay;
 * - event-loop lag, measured by a timer-drift sampler: a `setInterval` of `sampleIntervalMs`
 *   notes how late each tick fires. A late tick means the loop was busy that long, so every
 *   request waiting behind it waited as long too.
 *
 * The lag estimate moves halfway towards a sample above it and decays slowly below it
 * (`lag += 0.5·(drift − lag)` when rising, `lag = 0.8·lag + 0.2·drift` when falling). A one-off
 * hiccup (a 70 ms GC pause or periodic refresh) lifts it to 35 ms and sheds nothing; a 300 ms stall
 * lifts it to 150 ms and sheds for ~50 ms while the backlog it built drains; lag that persists
 * (real overload) converges on its own value within a few ticks. No flapping tick by tick.
 */

export interface ShedOptions {
  /** Refuse once this many engine requests are in flight (0 refuses all). */
  readonly maxInFlight: number;
  /** Refuse while the lag estimate exceeds this (ms). */
  readonly maxLagMs: number;
  /** Sampler period (ms); 0 starts no timer (tests feed {@link LoadShedder.sample} by hand). */
  readonly sampleIntervalMs?: number;
}

export type ShedReason = 'in_flight' | 'event_loop_lag';

/** Step towards a higher sample, and weight of the estimate against a lower one (module comment). */
const LAG_RISE = 0.5;
const LAG_DECAY = 0.8;
const DEFAULT_SAMPLE_MS = 10;

export class LoadShedder {
  /** Engine requests being handled now; the app increments and decrements it. */
  inFlight = 0;
  /** Current event-loop lag estimate (ms). */
  lagMs = 0;
  readonly maxInFlight: number;
  readonly maxLagMs: number;
  private timer: NodeJS.Timeout | undefined;
  /** When the sampler last ticked (or was rebased). */
  private last = performance.now();

  constructor(opts: ShedOptions) {
    this.maxInFlight = opts.maxInFlight;
    this.maxLagMs = opts.maxLagMs;
    const period = opts.sampleIntervalMs ?? DEFAULT_SAMPLE_MS;
    if (period > 0) {
      this.timer = setInterval(() => {
        const now = performance.now();
        this.sample(now - this.last - period);
        this.last = now;
      }, period);
      // The sampler must never keep the process alive.
      this.timer.unref();
    }
  }

  /** Feeds one drift measurement (ms late); the timer calls this, tests may too. */
  sample(driftMs: number): void {
    const d = driftMs > 0 ? driftMs : 0;
    this.lagMs = d > this.lagMs ? this.lagMs + LAG_RISE * (d - this.lagMs) : LAG_DECAY * this.lagMs + (1 - LAG_DECAY) * d;
  }

  /**
   * Forgets the lag measured so far, and the drift of the tick now due: for a stall no request
   * waited behind — the engine's open, before which every engine request was refused as not ready
   * (its last seconds would otherwise count as lag on the first tick after it, and shed the
   * first requests of a server that has just become ready).
   */
  rebase(): void {
    this.lagMs = 0;
    this.last = performance.now();
  }

  /** Why a new engine request must be refused now, or undefined to admit it. */
  check(): ShedReason | undefined {
    if (this.inFlight >= this.maxInFlight) return 'in_flight';
    if (this.lagMs > this.maxLagMs) return 'event_loop_lag';
    return undefined;
  }

  /** Stops the sampler. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
