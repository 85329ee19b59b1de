import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createClientIpResolver } from '../../src/ratelimit/client-ip.js';

const req = (peer: string, xff?: string | string[]): IncomingMessage =>
  ({ socket: { remoteAddress: peer }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as unknown as IncomingMessage;

describe('client address for rate limits', () => {
  it('is the peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    const ip = createClientIpResolver([]);
    expect(ip(req('203.0.113.7', '198.51.100.1'))).toBe('203.0.113.7');
    expect(ip(req('::ffff:203.0.113.7'))).toBe('203.0.113.7');
  });

  it('walks X-Forwarded-For from the right past trusted proxies only', () => {
    const ip = createClientIpResolver(['10.0.0.0/8', 'fd00::/8']);
    // the client forged the left-most entry; the trusted LB appended the real peer
    expect(ip(req('10.1.2.3', '6.6.6.6, 198.51.100.9'))).toBe('198.51.100.9');
    expect(ip(req('10.1.2.3', '198.51.100.9, 10.9.9.9'))).toBe('198.51.100.9');
    expect(ip(req('10.1.2.3', ['198.51.100.9', '10.0.0.2']))).toBe('198.51.100.9');
    expect(ip(req('fd00::1', '2001:db8::5'))).toBe('2001:db8::5');
    // an untrusted peer's header is ignored
    expect(ip(req('198.51.100.1', '6.6.6.6'))).toBe('198.51.100.1');
    // only trusted hops: the left-most one we reached
    expect(ip(req('10.1.2.3', '10.0.0.5'))).toBe('10.0.0.5');
    // no header: the trusted proxy itself
    expect(ip(req('10.1.2.3'))).toBe('10.1.2.3');
    // a malformed entry stops the walk at the last address we could trust
    expect(ip(req('10.1.2.3', 'garbage, 10.0.0.7'))).toBe('10.0.0.7');
  });
});
