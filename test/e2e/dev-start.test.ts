import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { registerSecret } from '../helpers/run-artifacts.js';
import { runCli, spawnGateway, waitFor } from '../helpers/process.js';

/**
 * What `npm start` runs (`tollgate start --dev` on config/gateway.yaml) and what the README's
 * curl lines show: a dev token passes, no token and a read-only token are rejected.
 * Uses the example's fixed ports 8080, 9090, 3001 and 3002.
 */
describe('npm start (dev mode on the shipped example)', () => {
  it('serves the demo upstream behind token checks', async () => {
    const gw = await spawnGateway(['start', '--dev']);
    try {
      await waitFor(async () => (await fetch('http://127.0.0.1:9090/readyz')).status === 200);
      const tok = await runCli(['token']);
      expect(tok.code).toBe(0);
      const token = registerSecret(tok.stdout.trim());
      expect(token.split('.')).toHaveLength(3);

      const ok = await fetch('http://127.0.0.1:8080/v1/tenants/acme/orders/42', { headers: { authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
      // the example's rate limits answer in IETF RateLimit headers
      expect(ok.headers.get('ratelimit-policy')).toMatch(/"per-ip";q=50;w=1|"per-client";q=600;w=60/);
      expect(ok.headers.get('ratelimit-policy')).toContain('"daily";q=100000;w=86400');
      const body = (await ok.json()) as { service: string; url: string; headers: Record<string, string> };
      expect(body).toMatchObject({ service: 'demo-upstream', url: '/v1/tenants/acme/orders/42' });
      expect(body.headers['x-client-id']).toBe('demo-client');

      const none = await fetch('http://127.0.0.1:8080/v1/tenants/acme/orders/42');
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);

      const reader = await runCli(['token', '--client', 'reader-client', '--secret', 'reader-secret', '--scope', 'orders:read']);
      const readOnly = registerSecret(reader.stdout.trim());
      const post = await fetch('http://127.0.0.1:8080/v1/tenants/acme/orders', {
        method: 'POST',
        headers: { authorization: `Bearer ${readOnly}`, 'content-type': 'application/json' },
        body: '{"amount":1}',
      });
      expect(post.status).toBe(403);

      // The shipped policy: a token for tenant acme on globex is a confused deputy.
      const other = await fetch('http://127.0.0.1:8080/v1/tenants/globex/orders/42', { headers: { authorization: `Bearer ${token}` } });
      expect(other.status).toBe(403);
      expect(await other.json()).toMatchObject({ code: 'policy_denied', reasons: ['tenant_mismatch'] });

      // Dual control as the README shows it: two approvals from the dev approver clients, bound to the request.
      const payment = '{"amount": 120, "currency": "EUR"}';
      // payments-create is high risk: an Idempotency-Key, a fresh nonce and the time on every request.
      const pay = (approvals: string[]) =>
        fetch('http://127.0.0.1:8080/v1/tenants/acme/payments', {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            'idempotency-key': `"${randomUUID()}"`,
            'x-tollgate-nonce': randomBytes(16).toString('base64url'),
            'x-tollgate-timestamp': String(Math.floor(Date.now() / 1000)),
            ...(approvals.length > 0 ? { 'approval-token': approvals.join(', ') } : {}),
          },
          body: payment,
        });
      const unapproved = await pay([]);
      expect(unapproved.status).toBe(403);
      expect(await unapproved.json()).toMatchObject({ reasons: ['approvals_missing'] });
      const approvals: string[] = [];
      for (const [client, secret] of [['approver-ann', 'ann-secret'], ['approver-bob', 'bob-secret']] as const) {
        const a = await runCli(['token', '--client', client, '--secret', secret, '--approve', 'POST /v1/tenants/acme/payments', '--body', payment]);
        expect(a.code, a.stderr).toBe(0);
        approvals.push(registerSecret(a.stdout.trim()));
      }
      const approved = await pay(approvals);
      expect(approved.status).toBe(200);
      const seen = (await approved.json()) as { headers: Record<string, string> };
      expect(seen.headers['x-approved-by']).toBe('approver-ann,approver-bob');

      const metrics = await (await fetch('http://127.0.0.1:9090/metrics')).text();
      expect(metrics).toContain('tollgate_requests_total{route="orders-read",method="GET",status_class="2xx"} 1');
      expect(gw.output()).not.toContain(token);
    } finally {
      gw.child.kill('SIGTERM');
      expect(await gw.exited).toBe(0);
    }
  });
});
