/**
 * The intent contract as agents meet it: every field rule of the schema with
 * the reason an agent is given, the size limits, the data rules the schema
 * cannot see (lambdas/shared/intent.ts), and the agent id an EventBridge
 * source binds. Each rule is tried at its boundary and just past it.
 */
import { describe, expect, it } from 'vitest';
import {
  AGENT_SOURCE_PREFIX,
  agentIdFromSource,
  agentIdSchema,
  CANCEL_DETAIL_TYPE,
  cancellationSchema,
  DECISION_DETAIL_TYPE,
  DECISION_SOURCE,
  describeIssues,
  FINAL_STATUSES,
  FORBIDDEN_KEYS,
  INTENT_DETAIL_TYPE,
  intentDataProblem,
  intentSchema,
  LIST_LIMITS,
  MAX_INTENT_BYTES,
  MAX_INTENT_DEPTH,
  MAX_KEY_LENGTH,
  MAX_STORED_INTENT_BYTES,
  parseIntent,
  TEXT_LIMITS,
} from '../../lambdas/shared/intent.js';
import { parseTraceparent, parseTracestate } from '../../lambdas/shared/tracing-context.js';

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

/** A valid raw intent detail, as an agent sends it. */
function detail(overrides: Record<string, unknown> = {}, agent: Record<string, unknown> = {}) {
  return {
    intentId: 'intent-0001',
    action: 'iam:AttachRolePolicy',
    resource: 'arn:aws:iam::123456789012:role/payments-deployer',
    environment: 'prod',
    justification: 'Deploy pipeline needs read access (INC-4211).',
    parameters: { roleName: 'payments-deployer' },
    agent: {
      model: 'claude-sonnet-4',
      sessionId: 'session-1',
      onBehalfOf: 'dana@example.com',
      owner: 'olga@example.com',
      ...agent,
    },
    ...overrides,
  };
}

const reasonOf = (raw: unknown) => {
  const result = parseIntent(raw);
  return result.ok ? undefined : result.reason;
};

describe('the EventBridge contract', () => {
  it('names events, sources, statuses and limits as agents and rules rely on them', () => {
    expect([INTENT_DETAIL_TYPE, CANCEL_DETAIL_TYPE, DECISION_DETAIL_TYPE]).toEqual([
      'Privileged Action Requested',
      'Privileged Action Cancelled',
      'Privileged Action Decided',
    ]);
    expect([DECISION_SOURCE, AGENT_SOURCE_PREFIX]).toEqual(['countersign', 'countersign.agent.']);
    expect(FINAL_STATUSES).toEqual(['APPROVED', 'DENIED', 'EXPIRED', 'CANCELLED']);
    expect(FORBIDDEN_KEYS).toEqual(['__proto__', 'constructor', 'prototype']);
    expect([MAX_INTENT_BYTES, MAX_STORED_INTENT_BYTES, MAX_INTENT_DEPTH, MAX_KEY_LENGTH]).toEqual([
      262_144, 368_640, 24, 256,
    ]);
  });

  it('refuses a malformed agent id with a reason naming the rule', () => {
    // Act
    const result = agentIdSchema.safeParse('Deploy Bot');

    // Assess
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe('agent id must be 1-64 of [a-z0-9._-]');
  });
});

describe('parseIntent: the schema', () => {
  it('accepts a valid intent and returns it with text trimmed', () => {
    // Act
    const result = parseIntent(detail({ justification: '  Deploy it.  ' }, { model: ' m ' }));

    // Assess
    expect(result).toEqual({
      ok: true,
      intent: detail({ justification: 'Deploy it.' }, { model: 'm' }),
    });
  });

  it.each([
    ['an intentId of 8 characters', { intentId: 'a1234567' }],
    ['an intentId of 128 characters', { intentId: `a${'b'.repeat(127)}` }],
    ['an intentId with . _ : -', { intentId: 'A0._:-xyz' }],
    ['an action with a wildcard', { action: 's3:Get*' }],
    ['an action of 128 characters', { action: `svc:${'a'.repeat(124)}` }],
    ['a 32-character environment', { environment: `e${'-'.repeat(31)}` }],
    ['a resource of 2048 characters', { resource: 'r'.repeat(2048) }],
    ['a justification of 4096 characters', { justification: 'j'.repeat(4096) }],
    ['a parameter key of 256 characters', { parameters: { ['k'.repeat(256)]: 1 } }],
    ['an empty parameters object', { parameters: {} }],
    ['a context with neither trace field', { context: { urgency: 'normal' } }],
    ['a context with a traceparent alone', { context: { traceparent: TRACEPARENT } }],
    [
      'a full context',
      {
        context: {
          datasets: Array.from({ length: 50 }, () => 'd'.repeat(256)),
          diff: 'x'.repeat(64 * 1024),
          impact: 'i'.repeat(4096),
          urgency: 'urgent',
          links: Array.from({ length: 10 }, (_, i) => `https://example.com/${i}`),
          traceparent: TRACEPARENT,
          tracestate: 'vendor=value',
        },
      },
    ],
  ])('accepts %s', (_name, overrides) => {
    // Act
    const result = parseIntent(detail(overrides));

    // Assess
    expect(result.ok).toBe(true);
  });

  it.each([
    [
      'an intentId of 7 characters',
      { intentId: 'a123456' },
      'intentId: intentId must be 8-128 of [A-Za-z0-9._:-], starting alphanumeric',
    ],
    [
      'an intentId of 129 characters',
      { intentId: `a${'b'.repeat(128)}` },
      'intentId: intentId must be 8-128',
    ],
    ['an intentId starting with a dash', { intentId: '-abcdefgh' }, 'intentId: intentId must be 8-128'],
    ['an intentId with a slash', { intentId: 'abcdefgh/x' }, 'intentId: intentId must be 8-128'],
    [
      'an action without a service',
      { action: 'AttachRolePolicy' },
      'action: action must look like "service:Operation", e.g. iam:AttachRolePolicy',
    ],
    ['an action with text before it', { action: ' iam:AttachRolePolicy' }, 'action: action must look like'],
    ['an action with text after it', { action: 'iam:AttachRolePolicy x' }, 'action: action must look like'],
    ['an action of 129 characters', { action: `svc:${'a'.repeat(125)}` }, 'action: Too big'],
    [
      'an upper-case environment',
      { environment: 'Prod' },
      'environment: environment must be a lower-case name such as prod, staging or dev',
    ],
    ['an environment with text after it', { environment: 'prod;rm' }, 'environment: environment must be'],
    ['a 33-character environment', { environment: `e${'-'.repeat(32)}` }, 'environment: environment must be'],
    ['an environment starting with a dash', { environment: '-prod' }, 'environment: environment must be'],
    ['an empty resource', { resource: '' }, 'resource: Too small'],
    ['a blank justification', { justification: '   ' }, 'justification: Too small'],
    ['a resource of 2049 characters', { resource: 'r'.repeat(2049) }, 'resource: Too big'],
    ['a justification of 4097 characters', { justification: 'j'.repeat(4097) }, 'justification: Too big'],
    [
      'a parameter key of 257 characters',
      { parameters: { ['k'.repeat(257)]: 1 } },
      'a key is longer than 256',
    ],
    ['parameters that are a list', { parameters: [1] }, 'parameters: Invalid input'],
    ['an unknown field', { approved: true }, 'Unrecognized key: "approved"'],
    ['an agent that is not an object', { agent: 'x' }, 'agent: Invalid input'],
    [
      '51 datasets',
      { context: { datasets: Array.from({ length: 51 }, () => 'd') } },
      'context.datasets: Too big',
    ],
    ['a 257-character dataset', { context: { datasets: ['d'.repeat(257)] } }, 'context.datasets.0: Too big'],
    ['an empty dataset', { context: { datasets: [' '] } }, 'context.datasets.0: Too small'],
    ['a diff over 64 KiB', { context: { diff: 'x'.repeat(64 * 1024 + 1) } }, 'context.diff: Too big'],
    ['an impact of 4097 characters', { context: { impact: 'i'.repeat(4097) } }, 'context.impact: Too big'],
    ['an empty impact', { context: { impact: '' } }, 'context.impact: Too small'],
    ['another urgency', { context: { urgency: 'critical' } }, 'context.urgency: Invalid option'],
    [
      '11 links',
      { context: { links: Array.from({ length: 11 }, () => 'https://e.com') } },
      'context.links: Too big',
    ],
    ['a link that is no URL', { context: { links: ['not a url'] } }, 'context.links.0: Invalid URL'],
    [
      'a link over 2048 characters',
      { context: { links: [`https://e.com/${'a'.repeat(2040)}`] } },
      'context.links.0: Too big',
    ],
    [
      'a malformed traceparent',
      { context: { traceparent: 'nope' } },
      `context.traceparent: ${(parseTraceparent('nope') as { reason: string }).reason}`,
    ],
    [
      'a malformed tracestate',
      { context: { traceparent: TRACEPARENT, tracestate: '=' } },
      `context.tracestate: ${(parseTracestate('=') as { reason: string }).reason}`,
    ],
    [
      'a tracestate without a traceparent',
      { context: { tracestate: 'vendor=value' } },
      'context.tracestate: tracestate needs a traceparent',
    ],
    ['an unknown context field', { context: { secret: 1 } }, 'Unrecognized key: "secret"'],
  ])('refuses %s, naming the field', (_name, overrides, reason) => {
    // Act
    const result = reasonOf(detail(overrides));

    // Assess
    expect(result).toContain(reason);
    expect(result?.startsWith('invalid intent: ')).toBe(true);
  });

  it.each([
    ['an empty model', { model: ' ' }, 'agent.model: Too small'],
    ['a model of 129 characters', { model: 'm'.repeat(129) }, 'agent.model: Too big'],
    ['a session id of 257 characters', { sessionId: 's'.repeat(257) }, 'agent.sessionId: Too big'],
    ['an owner that is no email', { owner: 'olga' }, 'agent.owner: Invalid email'],
    ['an on-behalf-of that is no email', { onBehalfOf: 'x@' }, 'agent.onBehalfOf: Invalid email'],
    [
      'an email over 254 characters',
      { owner: `${'o'.repeat(64)}@${'d'.repeat(186)}.com` },
      'agent.owner: Too big',
    ],
    ['an unknown agent field', { role: 'admin' }, 'Unrecognized key: "role"'],
  ])('refuses an agent with %s', (_name, agent, reason) => {
    // Act
    const result = reasonOf(detail({}, agent));

    // Assess
    expect(result).toContain(reason);
  });

  it('accepts a model of 128 characters and a session id of 256', () => {
    // Act
    const result = parseIntent(detail({}, { model: 'm'.repeat(128), sessionId: 's'.repeat(256) }));

    // Assess
    expect(result.ok).toBe(true);
  });

  it('refuses a cancellation with an invalid intent id or an empty reason', () => {
    // Act
    const valid = cancellationSchema.safeParse({ intentId: 'intent-0001', reason: 'no longer needed' });
    const badId = cancellationSchema.safeParse({ intentId: 'short' });
    const empty = cancellationSchema.safeParse({ intentId: 'intent-0001', reason: ' ' });
    const long = cancellationSchema.safeParse({ intentId: 'intent-0001', reason: 'r'.repeat(1025) });

    // Assess
    expect([valid.success, badId.success, empty.success, long.success]).toEqual([true, false, false, false]);
  });
});

describe('parseIntent: every limit and pattern at its edge', () => {
  it('has the limits agents are told about', () => {
    expect(TEXT_LIMITS).toEqual({
      action: 128,
      resource: 2048,
      justification: 4096,
      parameterKey: 256,
      dataset: 256,
      diff: 65_536,
      impact: 4096,
      link: 2048,
      model: 128,
      sessionId: 256,
      email: 254,
      cancellationReason: 1024,
    });
    expect(LIST_LIMITS).toEqual({ datasets: 50, links: 10 });
  });

  /** A detail with one field of `n` characters (or a list of `n` items), and where a refusal names it. */
  const sized: [string, number, (n: number) => unknown, string][] = [
    ['action', TEXT_LIMITS.action, (n) => detail({ action: `svc:${'a'.repeat(n - 4)}` }), 'action'],
    ['resource', TEXT_LIMITS.resource, (n) => detail({ resource: 'r'.repeat(n) }), 'resource'],
    [
      'justification',
      TEXT_LIMITS.justification,
      (n) => detail({ justification: 'j'.repeat(n) }),
      'justification',
    ],
    [
      'dataset',
      TEXT_LIMITS.dataset,
      (n) => detail({ context: { datasets: ['d'.repeat(n)] } }),
      'context.datasets.0',
    ],
    ['diff', TEXT_LIMITS.diff, (n) => detail({ context: { diff: 'x'.repeat(n) } }), 'context.diff'],
    ['impact', TEXT_LIMITS.impact, (n) => detail({ context: { impact: 'i'.repeat(n) } }), 'context.impact'],
    [
      'link',
      TEXT_LIMITS.link,
      (n) => detail({ context: { links: [`https://e.com/${'a'.repeat(n - 14)}`] } }),
      'context.links.0',
    ],
    ['model', TEXT_LIMITS.model, (n) => detail({}, { model: 'm'.repeat(n) }), 'agent.model'],
    ['session id', TEXT_LIMITS.sessionId, (n) => detail({}, { sessionId: 's'.repeat(n) }), 'agent.sessionId'],
    [
      'owner email',
      TEXT_LIMITS.email,
      (n) => detail({}, { owner: `${'o'.repeat(64)}@${'d'.repeat(n - 69)}.com` }),
      'agent.owner',
    ],
    [
      'on-behalf-of email',
      TEXT_LIMITS.email,
      (n) => detail({}, { onBehalfOf: `${'o'.repeat(64)}@${'d'.repeat(n - 69)}.com` }),
      'agent.onBehalfOf',
    ],
    [
      'dataset list',
      LIST_LIMITS.datasets,
      (n) => detail({ context: { datasets: Array.from({ length: n }, () => 'd') } }),
      'context.datasets',
    ],
    [
      'link list',
      LIST_LIMITS.links,
      (n) => detail({ context: { links: Array.from({ length: n }, (_, i) => `https://e.com/${i}`) } }),
      'context.links',
    ],
  ];

  it.each(sized)(
    'accepts a %s one under and at its limit (%i), and refuses one over',
    (name, max, build, path) => {
      // Act
      const under = parseIntent(build(max - 1));
      const at = parseIntent(build(max));
      const over = reasonOf(build(max + 1));

      // Assess
      expect([under.ok, at.ok]).toEqual([true, true]);
      const [kind, unit] = name.endsWith(' list') ? ['array', 'items'] : ['string', 'characters'];
      expect(over).toBe(`invalid intent: ${path}: Too big: expected ${kind} to have <=${max} ${unit}`);
    },
  );

  it.each([
    ['resource', (text: string) => detail({ resource: text }), 'resource'],
    ['justification', (text: string) => detail({ justification: text }), 'justification'],
    ['dataset', (text: string) => detail({ context: { datasets: [text] } }), 'context.datasets.0'],
    ['impact', (text: string) => detail({ context: { impact: text } }), 'context.impact'],
    ['model', (text: string) => detail({}, { model: text }), 'agent.model'],
    ['session id', (text: string) => detail({}, { sessionId: text }), 'agent.sessionId'],
  ])('refuses an empty or blank %s and accepts one character', (_name, build, path) => {
    expect(reasonOf(build(''))).toContain(`${path}: Too small`);
    expect(reasonOf(build(' \t '))).toContain(`${path}: Too small`);
    expect(parseIntent(build(' x ')).ok).toBe(true);
  });

  it('takes a parameter key one under and at its limit, refusing one over in the schema itself', () => {
    // Prepare: parseIntent refuses a longer key in its data rules before the schema sees it.
    const withKey = (n: number) => detail({ parameters: { ['k'.repeat(n)]: 1 } });

    // Act
    const under = intentSchema.safeParse(withKey(TEXT_LIMITS.parameterKey - 1));
    const at = intentSchema.safeParse(withKey(TEXT_LIMITS.parameterKey));
    const over = intentSchema.safeParse(withKey(TEXT_LIMITS.parameterKey + 1));

    // Assess
    expect([under.success, at.success, over.success]).toEqual([true, true, false]);
    expect(over.error?.issues[0]?.path).toEqual(['parameters', 'k'.repeat(257)]);
  });

  it('takes a cancellation reason one under and at its limit, refusing one over or blank', () => {
    const reason = (text: string) =>
      cancellationSchema.safeParse({ intentId: 'intent-0001', reason: text }).success;
    expect([1023, 1024, 1025].map((n) => reason('r'.repeat(n)))).toEqual([true, true, false]);
    expect([reason(''), reason('  '), reason('r')]).toEqual([false, false, true]);
  });

  it.each([
    ['intentId', 'a1234567', true],
    ['intentId', 'a12345678', true],
    ['intentId', 'a123456', false],
    ['intentId', `a${'b'.repeat(126)}`, true],
    ['intentId', `a${'b'.repeat(127)}`, true],
    ['intentId', `a${'b'.repeat(128)}`, false],
    ['intentId', '0._:-xyz', true],
    ['intentId', '_abcdefgh', false],
    ['environment', 'p', true],
    ['environment', '1', true],
    ['environment', '', false],
    ['environment', `e${'-'.repeat(30)}`, true],
    ['environment', `e${'-'.repeat(31)}`, true],
    ['environment', `e${'-'.repeat(32)}`, false],
    ['environment', 'prod_eu', false],
    ['action', 'a:b', true],
    ['action', 'service-1:Op*._-', true],
    ['action', ':Op', false],
    ['action', 'iam:', false],
    ['action', 'iam.x:Op', false],
    ['action', 'iam:Get:Role', false],
    ['action', 'iam:Get Role', false],
  ])('reads the %s %j as %s by its pattern', (field, value, accepted) => {
    // Act
    const result = parseIntent(detail({ [field]: value }));

    // Assess
    expect(result.ok).toBe(accepted);
    if (!accepted) expect(reasonOf(detail({ [field]: value }))).toContain(`${field}: ${field} must`);
  });

  it.each([
    ['a', true],
    [`a${'b'.repeat(62)}`, true],
    [`a${'b'.repeat(63)}`, true],
    [`a${'b'.repeat(64)}`, false],
    ['0.a_b-c', true],
    ['', false],
    ['.bot', false],
    ['bot!', false],
  ])('reads the agent id %j as %s by its pattern', (id, accepted) => {
    expect(agentIdSchema.safeParse(id).success).toBe(accepted);
  });

  it('reports a trace refusal and a tracestate without traceparent as custom issues at their field', () => {
    // Act
    const bad = intentSchema.safeParse(detail({ context: { traceparent: 'nope' } }));
    const alone = intentSchema.safeParse(detail({ context: { tracestate: 'vendor=value' } }));

    // Assess
    expect(bad.error?.issues).toEqual([
      expect.objectContaining({
        code: 'custom',
        path: ['context', 'traceparent'],
        message: (parseTraceparent('nope') as { reason: string }).reason,
      }),
    ]);
    expect(alone.error?.issues).toEqual([
      expect.objectContaining({
        code: 'custom',
        path: ['context', 'tracestate'],
        message: 'tracestate needs a traceparent',
      }),
    ]);
  });
});

describe('describeIssues', () => {
  it('names each field by its path, the root as (root), at most ten, separated by "; "', () => {
    // Prepare
    const issues = Array.from({ length: 12 }, (_, i) => ({ path: ['p', i], message: `m${i}` }));

    // Act
    const text = describeIssues({ issues: [{ path: [], message: 'root problem' }, ...issues] });

    // Assess
    expect(text).toBe(
      `(root): root problem; ${Array.from({ length: 9 }, (_, i) => `p.${i}: m${i}`).join('; ')}`,
    );
  });

  it('refuses a detail that is not an object at the root', () => {
    // Act
    const result = reasonOf('just text');

    // Assess
    expect(result).toMatch(/^invalid intent: \(root\): /);
  });
});

describe('parseIntent: sizes', () => {
  it('refuses an intent over 256 KiB, saying how large it is', () => {
    // Prepare
    const raw = detail({ parameters: { blob: 'x'.repeat(MAX_INTENT_BYTES) } });
    const size = Buffer.byteLength(JSON.stringify(raw), 'utf8');

    // Act
    const result = parseIntent(raw);

    // Assess
    expect(result).toEqual({ ok: false, reason: `intent is ${size} bytes; the limit is 262144 bytes` });
  });

  it('accepts an intent of exactly 256 KiB (outside parameters it stays within the stored size)', () => {
    // Prepare
    const base = detail({ context: { diff: '' } });
    const room = MAX_INTENT_BYTES - Buffer.byteLength(JSON.stringify(base), 'utf8');
    const raw = { ...base, notes: 'n'.repeat(room - ',"notes":""'.length) };

    // Act
    const bytes = Buffer.byteLength(JSON.stringify(raw), 'utf8');
    const problem = intentDataProblem(raw);

    // Assess
    expect(bytes).toBe(MAX_INTENT_BYTES);
    expect(problem).toBeUndefined();
    expect(reasonOf(raw)).toContain('Unrecognized key: "notes"');
  });

  it('refuses an intent whose parameters, stored up to three times, would not fit a request item', () => {
    // Prepare: 130 KB of parameters is 390 KB stored; the same text outside parameters is not.
    const inParameters = detail({ parameters: { blob: 'x'.repeat(130_000) } });
    const outside = { ...detail(), notes: 'x'.repeat(130_000) };

    // Act
    const refused = parseIntent(inParameters);

    // Assess
    expect(refused).toEqual({
      ok: false,
      reason: `invalid intent: intent would take more than ${MAX_STORED_INTENT_BYTES} bytes in the request store (the intent once, its parameters up to twice more); send less`,
    });
    expect(intentDataProblem(outside)).toBeUndefined();
  });

  it('counts parameters in lists and nested objects toward the stored size', () => {
    // Act
    const inList = intentDataProblem(detail({ parameters: { list: ['x'.repeat(130_000)] } }));
    const nested = intentDataProblem(detail({ parameters: { a: { b: 'x'.repeat(130_000) } } }));

    // Assess
    expect(inList).toMatch(/^intent would take more than/);
    expect(nested).toMatch(/^intent would take more than/);
  });

  it.each([
    // The estimate: a string its UTF-8 bytes, a number 21, a list 3 + its length, an object 4 + each key's bytes + 1.
    // Root {parameters} is 15; parameters {a} is 6: 15 + 6 + n, plus twice (6 + n), is 33 + 3n.
    ['a string parameter', (n: number) => ({ parameters: { a: 'x'.repeat(n) } }), 122_869],
    // A list of one: 3 + 1 more, inside parameters: 45 + 3n.
    ['a string in a list', (n: number) => ({ parameters: { a: ['x'.repeat(n)] } }), 122_865],
    // A number beside it: parameters {a, b} is 8, the number 21: 102 + 3n.
    ['a string beside a number', (n: number) => ({ parameters: { a: 1, b: 'x'.repeat(n) } }), 122_846],
    // A top-level list of parameters counts as parameters too: root 15, list 4: 15 + 4 + n + 2(4 + n) = 27 + 3n.
    ['a top-level list of parameters', (n: number) => ({ parameters: ['x'.repeat(n)] }), 122_871],
  ])(
    'estimates the stored size of %s exactly: accepted at the limit, refused one byte past it',
    (_name, make, n) => {
      // Act
      const atLimit = intentDataProblem(make(n));
      const past = intentDataProblem(make(n + 1));

      // Assess
      expect(atLimit).toBeUndefined();
      expect(past).toMatch(/^intent would take more than 368640 bytes/);
    },
  );

  it('does not count a top-level field that merely starts with "parameters" as parameters', () => {
    // Act
    const problem = intentDataProblem({ ...detail(), parametersNote: 'x'.repeat(130_000) });

    // Assess
    expect(problem).toBeUndefined();
  });
});

describe('intentDataProblem', () => {
  it.each([
    ['undefined', { a: undefined }, 'a: undefined is not a JSON value'],
    ['a function', { a: () => 1 }, 'a: function is not a JSON value'],
    ['a bigint', { a: 1n }, 'a: bigint is not a JSON value'],
    ['a date', { a: new Date(0) }, 'a: not a JSON object'],
    ['a map', { a: new Map() }, 'a: not a JSON object'],
    [
      'NaN',
      { a: Number.NaN },
      'a: number NaN is not finite (a JSON number too large for a double, e.g. 1e400)',
    ],
    ['-2^53', { a: -(2 ** 53) }, 'a: integer -9007199254740992 is beyond ±2^53−1'],
    [
      '-1e-131',
      { a: -1e-131 },
      'a: number -1e-131 is smaller in magnitude than DynamoDB stores (1e-130); send it as a string',
    ],
    ['NUL in a key', { 'a\u0000b': 1 }, '(root): key contains a NUL character (U+0000)'],
    [
      'a lone low surrogate',
      { a: '\udc00x' },
      'a: contains an unpaired UTF-16 surrogate (not encodable as UTF-8)',
    ],
    ['a forbidden key at the root', JSON.parse('{"__proto__":1}'), '(root): key "__proto__" is refused'],
    ['an empty key at the root', { '': 1 }, '(root): empty keys are refused'],
    ['a long key at the root', { ['k'.repeat(257)]: 1 }, '(root): a key is longer than 256 characters'],
    ['a constructor key', { p: { constructor: 1 } }, 'p: key "constructor" is refused'],
    ['a prototype key', { p: { prototype: 1 } }, 'p: key "prototype" is refused'],
  ])('refuses %s with a reason naming where', (_name, value, reason) => {
    // Act
    const problem = intentDataProblem(value);

    // Assess
    expect(problem).toContain(reason);
  });

  it('names a nested place by its path, long keys cut and escaped', () => {
    // Prepare
    const key = `${'k'.repeat(70)}"`;

    // Act
    const problem = intentDataProblem({ parameters: { [key]: [{ a: 'x\u0000' }] } });

    // Assess
    expect(problem).toBe(`parameters.${'k'.repeat(64)}…[0].a: contains a NUL character (U+0000)`);
  });

  it('names the root when the whole detail is the problem', () => {
    expect(intentDataProblem('x\u0000')).toBe('(root): contains a NUL character (U+0000)');
    expect(intentDataProblem(Number.NaN)).toMatch(/^\(root\): number NaN is not finite/);
  });

  it('shows a key of exactly 64 characters whole', () => {
    // Act
    const problem = intentDataProblem({ parameters: { ['k'.repeat(64)]: 'x\u0000' } });

    // Assess
    expect(problem).toBe(`parameters.${'k'.repeat(64)}: contains a NUL character (U+0000)`);
  });

  it('shows a key with a quote escaped', () => {
    // Act
    const problem = intentDataProblem({ parameters: { 'a"b': 'x\u0000' } });

    // Assess
    expect(problem).toBe('parameters.a\\"b: contains a NUL character (U+0000)');
  });

  it.each([
    ['null, booleans and zero', { a: null, b: true, c: false, d: 0, e: -0 }],
    ['the smallest magnitudes DynamoDB stores', { a: 1e-130, b: -1e-130 }],
    ['the largest safe integers', { a: 2 ** 53 - 1, b: -(2 ** 53 - 1) }],
    ['a key of 256 characters', { ['k'.repeat(256)]: 1 }],
    ['an object without a prototype', Object.assign(Object.create(null), { a: 1 })],
    ['a nested list at the deepest level', { a: [[[]]] }],
  ])('accepts %s', (_name, value) => {
    // Act
    const problem = intentDataProblem(value);

    // Assess
    expect(problem).toBeUndefined();
  });

  it('refuses nesting at the first level past 24, counting lists as levels', () => {
    // Prepare
    const nest = (levels: number) => {
      let value: unknown = 1;
      for (let i = 0; i < levels; i++) value = i % 2 ? [value] : { a: value };
      return value;
    };

    // Act
    const at24 = intentDataProblem(nest(24));
    const at25 = intentDataProblem(nest(25));

    // Assess
    expect(at24).toBeUndefined();
    expect(at25).toMatch(/: nested deeper than 24 levels \(the intent is level 1\); flatten the parameters$/);
  });
});

describe('agentIdFromSource', () => {
  it.each([
    ['countersign.agent.deploy-bot', 'deploy-bot'],
    ['countersign.agent.a', 'a'],
    [`countersign.agent.a${'b'.repeat(63)}`, `a${'b'.repeat(63)}`],
    ['countersign.agent.v1.2_x', 'v1.2_x'],
  ])('reads the agent id from %s', (source, id) => {
    expect(agentIdFromSource(source)).toBe(id);
  });

  it.each([
    ['not a string', 42],
    ['another source', 'aws.events'],
    ['the decision source', 'countersign'],
    ['the prefix alone', 'countersign.agent.'],
    ['an upper-case id', 'countersign.agent.Deploy'],
    ['an id starting with a dash', 'countersign.agent.-bot'],
    ['an id of 65 characters', `countersign.agent.a${'b'.repeat(64)}`],
    ['an id with a space after it', 'countersign.agent.bot x'],
    ['the prefix not at the start', 'x.countersign.agent.bot'],
  ])('finds no agent in %s', (_name, source) => {
    expect(agentIdFromSource(source)).toBeUndefined();
  });
});
