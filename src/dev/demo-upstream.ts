import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A development-only upstream for `npm start`: answers every request with what it received
 * (method, path, and the headers the gateway adds), so a newcomer can see what tollgate
 * forwards. It never echoes Authorization or Cookie.
 */
const SHOWN = ['x-approved-by', 'host', 'x-request-id', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-client-id', 'x-client-scopes', 'x-token-issuer', 'content-type'];

export async function startDemoUpstream(opts: { host: string; port: number }): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      const headers: Record<string, string | string[] | undefined> = {};
      for (const name of SHOWN) if (req.headers[name] !== undefined) headers[name] = req.headers[name];
      const body = JSON.stringify({ service: 'demo-upstream', method: req.method, url: req.url, bodyBytes: bytes, headers });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(opts.port, opts.host, resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://${opts.host}:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
