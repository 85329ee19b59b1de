import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

type ConsumeOptions = { [key: string]: unknown };

/** RateLimiterMemory internals the synchronous path uses (checked at construction). */
interface MemoryInternals {
  _memoryStorage: {
    incrby(key: string, value: number, durationSec: number): RateLimiterRes;
    set(key: string, value: number, durationSec: number): RateLimiterRes;
  };
  getKey(key: string): string;
  _getKeySecDuration(options: ConsumeOptions): number;
}

/**
 * RateLimiterMemory expires each key with a `setTimeout` of the key's duration. Node clamps a delay above
 * 2^31-1 ms (about 24.8 days) to 1 ms (TimeoutOverflowWarning), so a monthly quota key would vanish right after
 * its first request and the month would never be counted. Durations that long are stored without expiry here and
 * deleted by `sweep()` (the service runs it on an unref'd interval) once their time is up; everything shorter is
 * the library's own behaviour.
 */
const MAX_TIMER_SECONDS = Math.floor(0x7fffffff / 1000);

/**
 * Counters shared by the limiters of one namespace. A plan override makes a second limiter for the same policy
 * (other points or block); with Redis both count the same key, and in memory they must too, or a partner-keyed
 * quota would be split between the partner's clients that have their own plan and those that do not.
 */
export interface MemoryShare {
  /** RateLimiterMemory's MemoryStorage instance. */
  readonly storage: unknown;
  /** Keys stored without expiry → when they should have expired (epoch ms, the library's clock: Date.now()). */
  readonly untimed: Map<string, number>;
}

export class MemoryLimiter extends RateLimiterMemory {
  readonly share: MemoryShare;

  constructor(opts: ConstructorParameters<typeof RateLimiterMemory>[0], share?: MemoryShare) {
    super(opts);
    // RateLimiterMemory keeps its counters in `_memoryStorage` (rate-limiter-flexible 11.4.0, lib/RateLimiterMemory.js);
    // adopting a sibling's makes the two count together. Checked here so a library change fails at boot, not silently.
    const self = this as unknown as { _memoryStorage?: unknown };
    const internals = this as unknown as Partial<MemoryInternals>;
    if (typeof self._memoryStorage !== 'object' || self._memoryStorage === null || typeof internals.getKey !== 'function'
      || typeof internals._getKeySecDuration !== 'function' || typeof internals._memoryStorage?.incrby !== 'function'
      || typeof internals._memoryStorage.set !== 'function') {
      throw new Error('rate-limiter-flexible: RateLimiterMemory internals not found (library internals changed)');
    }
    if (share !== undefined) self._memoryStorage = share.storage;
    this.share = share ?? { storage: self._memoryStorage, untimed: new Map() };
  }

  private get untimed(): Map<string, number> {
    return this.share.untimed;
  }

  private adjust(key: string | number, options: ConsumeOptions | undefined): ConsumeOptions | undefined {
    const d = options?.['customDuration'];
    if (typeof d === 'number' && d > MAX_TIMER_SECONDS) {
      const k = String(key);
      if (!this.untimed.has(k)) this.untimed.set(k, Date.now() + d * 1000);
      return { ...options, customDuration: 0 };
    }
    return options;
  }

  override consume(key: string | number, points?: number, options?: ConsumeOptions): Promise<RateLimiterRes> {
    return super.consume(key, points, this.adjust(key, options));
  }

  override reward(key: string | number, points?: number, options?: ConsumeOptions): Promise<RateLimiterRes> {
    return super.reward(key, points, this.adjust(key, options));
  }

  override penalty(key: string | number, points?: number, options?: ConsumeOptions): Promise<RateLimiterRes> {
    return super.penalty(key, points, this.adjust(key, options));
  }

  /**
   * consume() without its promise, for the memory store's synchronous path: the same steps as the library's
   * RateLimiterMemory.consume (rate-limiter-flexible 11.4.0: incrby, remaining points, block on the first overrun;
   * execEvenly is never used here). `refused` replaces the library's rejection.
   */
  consumeNow(key: string, points: number, options: ConsumeOptions | undefined): { refused: boolean; res: RateLimiterRes } {
    const internals = this as unknown as MemoryInternals;
    const storage = internals._memoryStorage;
    const rlKey = internals.getKey(key);
    const secDuration = internals._getKeySecDuration(this.adjust(key, options) ?? {});
    let res = storage.incrby(rlKey, points, secDuration);
    (res as { remainingPoints: number }).remainingPoints = Math.max(this.points - res.consumedPoints, 0);
    if (res.consumedPoints <= this.points) return { refused: false, res };
    // block only the first time the points are exceeded (as the library)
    if (this.blockDuration > 0 && res.consumedPoints <= this.points + points) res = storage.set(rlKey, res.consumedPoints, this.blockDuration);
    return { refused: true, res };
  }

  /** reward() without its promise (the library's RateLimiterMemory.reward). */
  rewardNow(key: string, points: number, options: ConsumeOptions | undefined): RateLimiterRes {
    const internals = this as unknown as MemoryInternals;
    const res = internals._memoryStorage.incrby(internals.getKey(key), -points, internals._getKeySecDuration(this.adjust(key, options) ?? {}));
    (res as { remainingPoints: number }).remainingPoints = Math.max(this.points - res.consumedPoints, 0);
    return res;
  }

  /** Deletes long-lived keys whose period (plus margin) is over. */
  sweep(nowMs = Date.now()): void {
    for (const [key, expiresAt] of this.untimed) {
      if (expiresAt <= nowMs) {
        this.untimed.delete(key);
        void this.delete(key);
      }
    }
  }
}

/** Results the insurance limiter produced (so the service can tell a fallback answer from a Redis one). */
const insuranceResults = new WeakSet<object>();

export function fromInsurance(res: unknown): boolean {
  return typeof res === 'object' && res !== null && insuranceResults.has(res);
}

/**
 * The `insuranceLimiter` of a Redis limiter (rate-limiter-flexible calls it with the same arguments when the
 * Redis operation fails: wiki "Insurance Strategy"). The library hides which limiter answered; this one tags its
 * results and reports every use, so fallbacks are counted and the store state follows.
 */
export class InsuranceLimiter extends MemoryLimiter {
  constructor(
    opts: ConstructorParameters<typeof RateLimiterMemory>[0],
    private readonly onUse: () => void,
    share?: MemoryShare,
  ) {
    super(opts, share);
  }

  private tagged(p: Promise<RateLimiterRes>): Promise<RateLimiterRes> {
    this.onUse();
    return p.then(
      (res) => {
        insuranceResults.add(res);
        return res;
      },
      (err: unknown) => {
        if (err instanceof RateLimiterRes) insuranceResults.add(err);
        throw err;
      },
    );
  }

  override consume(key: string | number, points?: number, options?: ConsumeOptions): Promise<RateLimiterRes> {
    return this.tagged(super.consume(key, points, options));
  }

  override reward(key: string | number, points?: number, options?: ConsumeOptions): Promise<RateLimiterRes> {
    return this.tagged(super.reward(key, points, options));
  }
}
