import { describe, expect, it } from 'vitest';
import { MemoryLimiter } from '../../src/ratelimit/memory.js';

describe('MemoryLimiter (RateLimiterMemory for calendar quotas)', () => {
  it('keeps keys longer than a Node timer can hold until sweep() finds them expired', async () => {
    const limiter = new MemoryLimiter({ points: 10, duration: 60, keyPrefix: 't' });
    const month = { customDuration: 31 * 86_400 + 3600 };
    await limiter.consume('k', 3, month);
    await new Promise((r) => setTimeout(r, 10));
    expect((await limiter.consume('k', 1, month)).remainingPoints).toBe(6);
    limiter.sweep(Date.now() + 30 * 86_400_000);
    expect((await limiter.get('k'))?.consumedPoints).toBe(4);
    limiter.sweep(Date.now() + 32 * 86_400_000);
    expect(await limiter.get('k')).toBeNull();
    // Short durations stay the library's own timers.
    await limiter.consume('short', 1, { customDuration: 60 });
    limiter.sweep(Date.now() + 32 * 86_400_000);
    expect((await limiter.get('short'))?.consumedPoints).toBe(1);
  });

  it('limiters given the same share count in one storage, each with its own threshold', async () => {
    const a = new MemoryLimiter({ points: 2, duration: 60, keyPrefix: 'ns' });
    const b = new MemoryLimiter({ points: 4, duration: 60, keyPrefix: 'ns' }, a.share);
    await a.consume('k', 2);
    await expect(a.consume('k', 1)).rejects.toMatchObject({ remainingPoints: 0 });
    expect((await b.consume('k', 1)).remainingPoints).toBe(0);
  });
});
