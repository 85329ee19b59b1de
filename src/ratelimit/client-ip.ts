/**
 * The client address rate limits count by. The socket peer is the client unless it is one of the configured trusted
 * proxies; then X-Forwarded-For is walked from the right (the entry the trusted proxy appended) past every trusted
 * hop, and the first untrusted address is the client (RFC 7239 §5.2 semantics for X-Forwarded-For). A client
 * cannot spoof its address by sending its own X-Forwarded-For: entries left of the first untrusted hop are ignored.
 */
import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';

export type ClientIpResolver = (req: IncomingMessage) => string;

/** `::ffff:1.2.3.4` → `1.2.3.4`, so IPv4 clients count the same on dual-stack listeners. */
function plain(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

export function createClientIpResolver(trustedProxies: readonly string[]): ClientIpResolver {
  if (trustedProxies.length === 0) return (req) => plain(req.socket.remoteAddress ?? '');
  const trusted = new BlockList();
  for (const cidr of trustedProxies) {
    const [net, bits] = cidr.split('/') as [string, string];
    trusted.addSubnet(plain(net), Number(bits), isIP(plain(net)) === 6 ? 'ipv6' : 'ipv4');
  }
  const isTrusted = (ip: string): boolean => {
    const v = isIP(ip);
    return v !== 0 && trusted.check(ip, v === 6 ? 'ipv6' : 'ipv4');
  };
  return (req) => {
    let client = plain(req.socket.remoteAddress ?? '');
    if (!isTrusted(client)) return client;
    const raw = req.headers['x-forwarded-for'];
    const list = (Array.isArray(raw) ? raw.join(',') : raw ?? '').split(',').map((s) => plain(s.trim())).filter((s) => s !== '');
    for (let i = list.length - 1; i >= 0; i--) {
      const hop = list[i] as string;
      if (isIP(hop) === 0) return client; // a malformed entry: stop at the last address we could trust
      client = hop;
      if (!isTrusted(hop)) return hop;
    }
    return client;
  };
}
