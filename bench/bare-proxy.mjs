// Baseline: a bare http-proxy-3 reverse proxy with a keep-alive agent and nothing else.
import { createServer, Agent } from 'node:http';
import { createProxyServer } from 'http-proxy-3';

const target = process.env.TARGET;
const proxy = createProxyServer({ target, agent: new Agent({ keepAlive: true, maxSockets: 256 }) });
proxy.on('error', (_err, _req, res) => {
  if (!res.headersSent) res.writeHead(502);
  res.end();
});
const server = createServer((req, res) => proxy.web(req, res));
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send?.({ port: server.address().port }));
