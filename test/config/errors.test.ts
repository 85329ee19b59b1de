import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { brief, issuesOf, MINIMAL } from './fixtures.js';

/** MINIMAL with extra route items appended (the first appended route starts on line 13). */
const withRoutes = (routes: string) => MINIMAL + routes;

describe('every error is reported with its path and line', () => {
  it('lists all problems of a document at once, in document order', () => {
    const text = [
      /*  1 */ 'version: 2',
      /*  2 */ 'server:',
      /*  3 */ '  public: { port: 70000 }',
      /*  4 */ '  admin: { port: 9090, hots: 127.0.0.1 }',
      /*  5 */ 'logging:',
      /*  6 */ '  level: verbose',
      /*  7 */ 'issuers:',
      /*  8 */ '  dev:',
      /*  9 */ '    issuer: https://idp.example.com',
      /* 10 */ '    audiences: []',
      /* 11 */ '    algorithms: [ES256, none]',
      /* 12 */ '    jwks: { uri: "ftp://idp.example.com/jwks" }',
      /* 13 */ '    keysFile: ./keys.json',
      /* 14 */ 'upstreams:',
      /* 15 */ '  orders:',
      /* 16 */ '    url: http://user:pw@127.0.0.1:3001',
      /* 17 */ '    timeoutMs: 5',
      /* 18 */ 'routes:',
      /* 19 */ '  - id: a',
      /* 20 */ '    match: { path: /a }',
      /* 21 */ '    upstream: ordrs',
      /* 22 */ '    auth: { issuer: prod }',
      /* 23 */ '    risk: low',
      /* 24 */ '  - id: a',
      /* 25 */ '    match: { path: /a, prefix: /a }',
      /* 26 */ '    upstream: orders',
      /* 27 */ '    auth: true',
      /* 28 */ '',
    ].join('\n');
    expect(brief(issuesOf(text, { baseDir: '/nonexistent' }))).toEqual([
      '1:10 version must be 1',
      '3:19 server.public.port must be <= 65535',
      '4:24 server.admin.hots unknown key "hots"; did you mean "host"?',
      '6:10 logging.level must be one of fatal, error, warn, info, debug, trace, silent',
      '8:3 issuers.dev must set exactly one key source: jwks, keysFile or secret (more than one is set)',
      '10:5 issuers.dev.audiences must have at least 1 item',
      '11:25 issuers.dev.algorithms[1] must be one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519, HS256, HS384, HS512 ("none" is never accepted)',
      '12:18 issuers.dev.jwks.uri must be an absolute http:// or https:// URL without query or fragment',
      '13:15 issuers.dev.keysFile file not found: /nonexistent/keys.json',
      '16:10 upstreams.orders.url must not contain credentials (user:password@); use tls or a secret reference instead',
      '17:5 upstreams.orders.timeoutMs unknown key "timeoutMs"; allowed keys: url, connectTimeoutMs, responseTimeoutMs, maxSockets, preserveHost, tls',
      '21:15 routes[0].upstream unknown upstream "ordrs" (defined: orders)',
      '22:21 routes[0].auth.issuer unknown issuer "prod" (defined: dev)',
      '24:5 routes[1].risk is required',
      '24:9 routes[1].id duplicate route id "a" (first used at line 19)',
      '25:5 routes[1].match must set exactly one of path or prefix (more than one is set)',
      '27:11 routes[1].auth must be false (public route) or an object { issuer, scopes }; true is not allowed',
    ]);
  });

  it('throws a ConfigError whose message lists each problem as <file>:<line>:<col> <path>: <message>', () => {
    const text = MINIMAL.replace('upstream: orders', 'upstream: billing');
    let caught: unknown;
    try {
      loadConfig(text, { filePath: 'conf/gateway.yaml', env: {} });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const err = caught as ConfigError;
    expect(err.errors).toEqual([
      { path: '/routes/0/upstream', dotted: 'routes[0].upstream', line: 10, column: 15, message: 'unknown upstream "billing" (defined: orders)' },
    ]);
    expect(err.message).toBe(
      'Invalid gateway configuration (1 error):\nconf/gateway.yaml:10:15 routes[0].upstream: unknown upstream "billing" (defined: orders)',
    );
    expect(err.filePath).toBe('conf/gateway.yaml');
  });

  it('names a missing required key by its path and points at the object that lacks it', () => {
    const text = withRoutes(['  - id: no-auth', '    match: { path: /x }', '    upstream: orders', '    risk: low', ''].join('\n'));
    expect(brief(issuesOf(text))).toEqual(['13:5 routes[1].auth is required']);
    const noAdmin = MINIMAL.replace('  admin: { port: 9090 }\n', '');
    expect(brief(issuesOf(noAdmin))).toEqual(['2:1 server.admin is required']);
    const noRoutes = MINIMAL.slice(0, MINIMAL.indexOf('routes:'));
    expect(brief(issuesOf(noRoutes))).toEqual(['1:1 routes is required']);
  });

  it('requires risk on every route: there is no default', () => {
    const text = MINIMAL.replace('    risk: low\n', '');
    expect(brief(issuesOf(text))).toEqual(['8:5 routes[0].risk is required']);
    expect(brief(issuesOf(MINIMAL.replace('risk: low', 'risk: critical')))).toEqual(['12:11 routes[0].risk must be one of low, medium, high']);
  });

  it('rejects a non-object, non-false auth', () => {
    expect(brief(issuesOf(MINIMAL.replace('auth: false', 'auth: none')))).toEqual([
      '11:11 routes[0].auth must be an object { issuer, scopes } or false (public route)',
    ]);
    expect(brief(issuesOf(MINIMAL.replace('auth: false', 'auth: {}')))).toEqual(['11:5 routes[0].auth.issuer is required']);
  });

  it('reports wrong types with plain words', () => {
    const text = MINIMAL.replace('{ port: 8080 }', '{ port: "8080" }').replace('  - id: health', '  - id: [health]');
    expect(brief(issuesOf(text))).toEqual([
      '3:19 server.public.port must be an integer',
      '8:5 routes[0].id must be a name of up to 64 letters, digits, "_", ".", ":" or "-", starting with a letter or digit',
    ]);
    expect(brief(issuesOf(MINIMAL.replace('risk: low', 'risk: 3')))).toEqual(['12:11 routes[0].risk must be a string']);
    expect(brief(issuesOf('- a\n- b\n'))).toEqual(['1:1 (document) must be a mapping']);
  });
});

describe('unknown keys', () => {
  it('are errors at every depth and point at the key itself', () => {
    const text = [
      /*  1 */ 'version: 1',
      /*  2 */ 'colour: blue',
      /*  3 */ 'server:',
      /*  4 */ '  public: { port: 8080 }',
      /*  5 */ '  admin: { port: 9090 }',
      /*  6 */ '  maxBodySize: 10',
      /*  7 */ 'upstreams:',
      /*  8 */ '  orders:',
      /*  9 */ '    url: https://127.0.0.1:3001',
      /* 10 */ '    tls:',
      /* 11 */ '      ca: ./ca.pem',
      /* 12 */ 'routes:',
      /* 13 */ '  - id: health',
      /* 14 */ '    match: { path: /health, method: GET }',
      /* 15 */ '    upstream: orders',
      /* 16 */ '    auth: false',
      /* 17 */ '    risk: low',
      /* 18 */ '    timeout: 5',
      '',
    ].join('\n');
    const issues = issuesOf(text);
    expect(brief(issues)).toEqual([
      '2:1 colour unknown key "colour"; allowed keys: version, server, logging, identityHeaders, issuers, upstreams, routes, rateLimits, audit, policy, riskTiers, highRisk',
      '6:3 server.maxBodySize unknown key "maxBodySize"; allowed keys: public, admin, shutdownGraceMs, maxBodyBytes, maxHeaderBytes, trustForwardedHeaders, keepAliveTimeoutMs, requestTimeoutMs',
      '11:7 upstreams.orders.tls.ca unknown key "ca"; allowed keys: caFile, servername',
      '14:29 routes[0].match.method unknown key "method"; did you mean "methods"?',
      '18:5 routes[0].timeout unknown key "timeout"; allowed keys: id, match, upstream, auth, risk, forwardAuthorization, maxBodyBytes, rateLimits, policy, highRisk',
    ]);
    expect(issues.map((i) => i.path)).toEqual(['/colour', '/server/maxBodySize', '/upstreams/orders/tls/ca', '/routes/0/match/method', '/routes/0/timeout']);
  });

  it('includes YAML merge keys, which are not supported', () => {
    const text = MINIMAL.replace('  orders: { url: "http://127.0.0.1:3001" }', '  base: &base { url: "http://127.0.0.1:3001" }\n  orders:\n    <<: *base');
    expect(brief(issuesOf(text))).toEqual([
      '7:3 upstreams.orders.url is required',
      '8:5 upstreams.orders["<<"] unknown key "<<"; allowed keys: url, connectTimeoutMs, responseTimeoutMs, maxSockets, preserveHost, tls',
    ]);
  });
});

describe('YAML-level problems', () => {
  it('rejects duplicate keys, naming the second occurrence', () => {
    const text = MINIMAL.replace('    risk: low\n', '    risk: low\n    risk: high\n');
    expect(brief(issuesOf(text))).toEqual(['13:5 routes[0].risk YAML: duplicate key (each key may appear once in a mapping)']);
  });

  it('reports a syntax error alone, without follow-on schema noise', () => {
    const text = MINIMAL.replace('    upstream: orders', '    upstream: [orders');
    expect(brief(issuesOf(text))).toEqual([
      '11:5 routes[0].auth YAML: Flow sequence in block collection must be sufficiently indented and end with a ] (2 follow-on YAML errors not shown)',
    ]);
    expect(brief(issuesOf(MINIMAL.replace('version: 1', 'version: 1\n\tfoo: 1')))).toEqual(['2:1 (document) YAML: Tabs are not allowed as indentation']);
  });

  it('hints at quoting when braces of a path template break a { } mapping', () => {
    const text = MINIMAL.replace('{ path: /health }', '{ path: /v1/orders/{id} }');
    expect(brief(issuesOf(text))).toEqual([
      '9:31 routes[0].match.path YAML: Unexpected flow-map-start at node end (inside { } quote values that contain braces, e.g. path: "/v1/orders/{id}") (11 follow-on YAML errors not shown)',
    ]);
    // Block style needs no quotes.
    const block = MINIMAL.replace('match: { path: /health }', 'match:\n      path: /v1/orders/{id}');
    expect(loadConfig(block, { env: {} }).routes[0]?.match.path).toBe('/v1/orders/{id}');
  });

  it('rejects an empty document and a comment-only document', () => {
    for (const text of ['', '# nothing here\n', '---\n', '~\n']) {
      expect(brief(issuesOf(text))).toEqual(['-:- (document) the configuration is empty; expected a mapping with version, server, upstreams and routes']);
    }
  });

  it('rejects several documents in one file', () => {
    expect(brief(issuesOf(`${MINIMAL}---\nversion: 1\n`))).toEqual(['13:1 (document) YAML: only one YAML document is allowed (remove "---" separators)']);
  });

  it('resolves aliases but rejects self-referencing and unknown ones', () => {
    const ok = MINIMAL.replace('routes:', 'issuers:\n  a:\n    issuer: a\n    audiences: &aud [api]\n    algorithms: [RS256]\n    jwks: { uri: "https://a.example/jwks" }\n  b:\n    issuer: b\n    audiences: *aud\n    algorithms: [RS256]\n    jwks: { uri: "https://b.example/jwks" }\nroutes:');
    expect(loadConfig(ok, { env: {} }).issuers['b']?.audiences).toEqual(['api']);
    expect(brief(issuesOf(MINIMAL.replace('risk: low', 'risk: *nope')))).toEqual([
      '12:11 routes[0].risk unknown alias *nope',
    ]);
  });

  it('stops alias expansion bombs', () => {
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++) lines.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]`);
    const messages = issuesOf(lines.join('\n') + '\n').map((i) => i.message);
    expect(messages).toContain('document expands to more than 100000 nodes (alias expansion)');
  });

  it('rejects tags it does not know and values that are not plain scalars', () => {
    expect(brief(issuesOf(MINIMAL.replace('risk: low', 'risk: !secret low')))).toEqual(['12:11 routes[0].risk YAML: Unresolved tag: !secret']);
    expect(brief(issuesOf(MINIMAL.replace('risk: low', 'risk: !!binary bG93')))).toEqual([
      '12:20 routes[0].risk unsupported value with tag tag:yaml.org,2002:binary: use a plain string, number or boolean',
    ]);
  });

  it('requires plain string keys', () => {
    expect(brief(issuesOf(MINIMAL.replace('upstreams:\n', 'upstreams:\n  1: { url: "http://x" }\n')))).toEqual([
      '6:3 upstreams mapping keys must be plain strings',
    ]);
  });
});

describe('names and references', () => {
  it('rejects map keys that are not plain names, including __proto__', () => {
    const text = MINIMAL.replace('  orders: { url: "http://127.0.0.1:3001" }', '  orders: { url: "http://127.0.0.1:3001" }\n  __proto__: { url: "http://127.0.0.1:3002" }\n  "two words": { url: "http://127.0.0.1:3003" }');
    expect(brief(issuesOf(text))).toEqual([
      '7:3 upstreams.__proto__ invalid name "__proto__": must be a name of up to 64 letters, digits, "_", ".", ":" or "-", starting with a letter or digit',
      '8:3 upstreams["two words"] invalid name "two words": must be a name of up to 64 letters, digits, "_", ".", ":" or "-", starting with a letter or digit',
    ]);
  });

  it('does not resolve references through Object.prototype', () => {
    expect(brief(issuesOf(MINIMAL.replace('upstream: orders', 'upstream: constructor')))).toEqual([
      '10:15 routes[0].upstream unknown upstream "constructor" (defined: orders)',
    ]);
    expect(brief(issuesOf(MINIMAL.replace('auth: false', 'auth: { issuer: toString }')))).toEqual([
      '11:21 routes[0].auth.issuer unknown issuer "toString" (none are defined)',
    ]);
  });

  it('rejects identical and overlapping route matches, ignoring parameter names and host case', () => {
    const text = withRoutes(
      [
        /* 13 */ '  - id: orders-a',
        /* 14 */ '    match: { methods: [GET], path: "/o/{id}", host: api.example.com }',
        /* 15 */ '    upstream: orders',
        /* 16 */ '    auth: false',
        /* 17 */ '    risk: low',
        /* 18 */ '  - id: orders-b',
        /* 19 */ '    match: { methods: [GET], path: "/o/{orderId}", host: API.example.com }',
        /* 20 */ '    upstream: orders',
        /* 21 */ '    auth: false',
        /* 22 */ '    risk: low',
        /* 23 */ '  - id: health-post',
        /* 24 */ '    match: { methods: [POST], path: /health }',
        /* 25 */ '    upstream: orders',
        /* 26 */ '    auth: false',
        /* 27 */ '    risk: low',
        /* 28 */ '  - id: other-host',
        /* 29 */ '    match: { methods: [GET], path: "/o/{id}" }',
        /* 30 */ '    upstream: orders',
        /* 31 */ '    auth: false',
        /* 32 */ '    risk: low',
        /* 33 */ '  - id: prefix',
        /* 34 */ '    match: { prefix: /health }',
        /* 35 */ '    upstream: orders',
        /* 36 */ '    auth: false',
        /* 37 */ '    risk: low',
        '',
      ].join('\n'),
    );
    expect(brief(issuesOf(text))).toEqual([
      '19:5 routes[2].match same match as route "orders-a" (line 13): methods, path and host are identical',
      '24:5 routes[3].match overlaps route "health" (line 8): same path and host, and both accept POST',
    ]);
  });

  it('accepts the same path with disjoint methods', () => {
    const text = withRoutes(['  - id: health-post', '    match: { methods: [POST], path: /health }', '    upstream: orders', '    auth: false', '    risk: low', ''].join('\n'))
      .replace('match: { path: /health }', 'match: { methods: [GET, HEAD], path: /health }');
    expect(loadConfig(text, { env: {} }).routes.map((r) => r.id)).toEqual(['health', 'health-post']);
  });
});

describe('values', () => {
  it('validates methods: upper-case, known, unique; CONNECT and TRACE never allowed', () => {
    const text = MINIMAL.replace('{ path: /health }', '{ methods: [GET, get, TRACE, CONNECT, GET], path: /health }');
    const methodError = 'must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS (upper-case; CONNECT and TRACE are never allowed)';
    expect(brief(issuesOf(text))).toEqual([
      `9:29 routes[0].match.methods[1] ${methodError}`,
      `9:34 routes[0].match.methods[2] ${methodError}`,
      `9:41 routes[0].match.methods[3] ${methodError}`,
      '9:50 routes[0].match.methods[4] duplicates item 0 of the list',
    ]);
  });

  it('validates upstream URLs', () => {
    const url = (u: string) => brief(issuesOf(MINIMAL.replace('"http://127.0.0.1:3001"', JSON.stringify(u))));
    const bad = '6:18 upstreams.orders.url must be an absolute http:// or https:// URL without query or fragment';
    expect(url('ftp://example.com')).toEqual([bad]);
    expect(url('/relative')).toEqual([bad]);
    expect(url('http://example.com/?q=1')).toEqual([bad]);
    expect(url('http://example.com/#top')).toEqual([bad]);
    expect(url('https://u:p@example.com')).toEqual(['6:18 upstreams.orders.url must not contain credentials (user:password@); use tls or a secret reference instead']);
    expect(url('http://[bad')).toEqual([bad]);
  });

  it('rejects tls options on a plain-http upstream and a missing CA file', () => {
    const text = MINIMAL.replace('{ url: "http://127.0.0.1:3001" }', '{ url: "http://127.0.0.1:3001", tls: { caFile: ca.pem } }');
    expect(brief(issuesOf(text, { baseDir: '/nonexistent' }))).toEqual([
      '6:43 upstreams.orders.tls tls is set but the upstream URL is http://; use https:// or remove tls',
      '6:58 upstreams.orders.tls.caFile file not found: /nonexistent/ca.pem',
    ]);
  });

  it('accepts port 0 and rejects negative ports', () => {
    expect(loadConfig(MINIMAL.replace('port: 8080', 'port: 0'), { env: {} }).server.public.port).toBe(0);
    expect(brief(issuesOf(MINIMAL.replace('port: 8080', 'port: -1')))).toEqual(['3:19 server.public.port must be >= 0']);
  });

  it('keeps timeouts within what Node timers honour', () => {
    expect(brief(issuesOf(MINIMAL.replace('  admin:', '  requestTimeoutMs: 3000000000\n  admin:')))).toEqual([
      '4:21 server.requestTimeoutMs must be <= 2147483647',
    ]);
  });

  it('rejects reserved or clashing identity headers', () => {
    const text = MINIMAL.replace('upstreams:', 'identityHeaders: { clientId: Authorization, scopes: X-Token-Issuer }\nupstreams:');
    expect(brief(issuesOf(text))).toEqual([
      '5:30 identityHeaders.clientId "authorization" is reserved; choose a header the gateway does not otherwise use',
      '5:53 identityHeaders.scopes "x-token-issuer" is also used for identityHeaders.issuer',
    ]);
  });
});
