// Data and input for `npm run bench:policy`: a gateway-shaped policy's data (actions, partners: a few hundred
// lines of JSON) and a realistic ~1 KB input document.
const RISKS = ['low', 'medium', 'high'];

export function benchData() {
  const actions = {};
  for (let i = 0; i < 40; i++) {
    actions[`route-${i}`] = {
      name: `action-${i}`,
      risk: RISKS[i % 3],
      scopes: [`api:${i % 7}:read`, ...(i % 2 ? [`api:${i % 7}:write`] : [])],
      ...(i % 4 === 0 ? { partners: ['acme', 'globex', 'initech'] } : {}),
      default_limit: 1000 + i,
    };
  }
  const partners = {};
  for (let p = 0; p < 30; p++) {
    const limits = {};
    for (let i = 0; i < 40; i += 5) limits[`action-${i}`] = 5000 + p * 10 + i;
    partners[p === 0 ? 'acme' : `partner-${p}`] = { plan: p % 2 ? 'gold' : 'basic', limits };
  }
  return { tollgate: { actions, partners } };
}

export function benchInput() {
  return {
    request: {
      method: 'POST',
      path: '/v1/tenants/t-4711/payments',
      params: { tenant: 't-4711' },
      query: { dry_run: 'false', expand: 'fees' },
      headers: { 'content-type': 'application/json', 'user-agent': 'crm-agent/2.3 (+https://example.org/agents)', 'x-request-id': '01J9ZC2V6Q5N7H0X3Y4W8R1T2K' },
      body: { amount: 1250.5, currency: 'EUR', reference: 'INV-2026-000123', memo: 'Quarterly settlement for partner integration', beneficiary: { iban: 'DE89370400440532013000', name: 'Example GmbH' } },
    },
    token: {
      client_id: 'crm-agent',
      partner: 'acme',
      issuer: 'https://auth.example.org',
      scopes: ['api:3:read', 'api:3:write', 'api:1:read', 'payments:write'],
      claims: { sub: 'crm-agent', tenant: 't-4711', aud: ['https://api.example.org'], iat: 1764000000, exp: 1764003600, jti: 'b7f1c2d4-0d0b-4f6e-9a51-3c1f2a8e9d10', act: { sub: 'user-42' } },
    },
    route: { id: 'route-10', risk: 'medium', upstream: 'payments' },
    environment: { time_ns: 1764001234000000000, instance: 'tollgate-0' },
  };
}
