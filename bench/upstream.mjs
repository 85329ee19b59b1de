// Benchmark upstream: a minimal keep-alive HTTP server answering a small JSON body.
import { createServer } from 'node:http';

const body = JSON.stringify({ ok: true, service: 'bench-upstream' });
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.send?.({ port: server.address().port });
});
