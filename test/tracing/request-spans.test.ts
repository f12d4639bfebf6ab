/**
 * requestSpans: a request's trace from its audit trail, as pure data. Times
 * come from the records, ids are stable, reminders, escalations and expiry are
 * events, the export is bounded, and no agent text ever becomes an attribute.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AuditRecord, GENESIS_HASH } from '../../lambdas/shared/audit-record.js';
import type { Intent } from '../../lambdas/shared/intent.js';
import { requestTrace, spanIdFor } from '../../lambdas/shared/tracing-context.js';
import { MAX_SPANS_PER_REQUEST, requestSpans } from '../../lambdas/shared/tracing-spans.js';
import { makeIntent, makeReviewPlan } from '../support/fixtures.js';

const T0 = Date.parse('2026-03-01T12:00:00.000Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();
const alice = {
  type: 'human' as const,
  slackUserId: 'U0ALICE01',
  email: 'alice@example.com',
  channel: 'slack',
};

function chainOf(
  entries: Pick<AuditRecord, 'kind' | 'actor' | 'data' | 'at'>[],
  requestId: string,
): AuditRecord[] {
  return entries.map((e, i) => ({
    v: 1,
    requestId,
    seq: i + 1,
    intentHash: 'sha256:abc',
    prevHash: GENESIS_HASH,
    hash: `h${i}`,
    ...e,
  }));
}

function requestOf(intent: Intent) {
  return {
    intentId: intent.intentId,
    agentId: 'deploy-bot',
    intent,
    intentHash: 'sha256:abc',
    review: makeReviewPlan({ approverGroups: ['security-approvers'], quorum: 1 }),
    executionId: 'arn:aws:states:us-east-1:000000000000:execution:countersign:x',
    verified: {
      owner: 'olu@example.com',
      onBehalfOf: 'carol@example.com',
      environment: 'prod',
      declaredEnvironment: intent.environment,
      environmentSource: 'account' as never,
    },
  };
}

function reviewedChain(intent: Intent): AuditRecord[] {
  const decision = {
    status: 'APPROVED',
    automatic: false,
    approvers: [{ slackUserId: 'U0ALICE01', email: 'alice@example.com', at: at(240) }],
    policies: ['review-prod-iam'],
    intentHash: 'sha256:abc',
    reason: `approved: ${intent.justification}`,
  };
  return chainOf(
    [
      {
        kind: 'requested',
        at: at(0),
        actor: { type: 'agent', source: 'x', agentId: 'deploy-bot' },
        data: { intent },
      },
      {
        kind: 'policy-evaluated',
        at: at(1),
        actor: { type: 'policy', policies: ['review-prod-iam'] },
        data: {
          outcome: 'review',
          reason: intent.justification,
          review: { quorum: 1, approverGroups: ['sec'] },
        },
      },
      {
        kind: 'reviewers-notified',
        at: at(2),
        actor: { type: 'system', component: 'review' },
        data: {
          channel: 'C0APPROVAL',
          approverGroups: ['security-approvers'],
          quorum: 1,
          wakeUps: [
            { kind: 'reminder', at: at(120), beforeSeconds: 600 },
            { kind: 'reminder', at: at(9999), beforeSeconds: 60 },
          ],
        },
      },
      {
        kind: 'refused',
        at: at(60),
        actor: { ...alice, slackUserId: 'U0CAROL03', email: 'carol@example.com' },
        data: { vote: 'approve', code: 'self-approval', reason: `nope ${intent.resource}` },
      },
      {
        kind: 'escalated',
        at: at(180),
        actor: { type: 'system', component: 'reminder' },
        data: { beforeSeconds: 300 },
      },
      { kind: 'vote', at: at(240), actor: alice, data: { vote: 'approve', approvals: 1, quorum: 1 } },
      {
        kind: 'decided',
        at: at(241),
        actor: alice,
        data: { final: true, decision },
      },
      {
        kind: 'grant-consumed',
        at: at(900),
        actor: { type: 'agent', source: 'x', agentId: 'deploy-bot' },
        data: {},
      },
    ],
    intent.intentId,
  );
}

describe('requestSpans', () => {
  it('one request span from intent to decision, one child per step, times from the trail', () => {
    // Prepare
    const intent = makeIntent({
      context: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
    });
    // Act
    const { trace, spans, dropped } = requestSpans(requestOf(intent), reviewedChain(intent), {
      xray: { traceId: '5759e988bd862e3fe1be46a994272793', spanId: '53995c3f42cd8ad8' },
    });
    // Assess
    expect(dropped).toBe(0);
    expect(spans.map((s) => [s.name, s.start - T0, s.end - T0])).toEqual([
      ['countersign.review', 0, 241_000],
      ['countersign.evaluate', 0, 1000],
      ['countersign.notify', 1000, 2000],
      ['countersign.refusal', 2000, 60_000],
      ['countersign.vote', 2000, 240_000],
      ['countersign.decision', 240_000, 241_000],
    ]);
    const [root, ...children] = spans;
    expect(root!.parentSpanId).toBe('00f067aa0ba902b7');
    expect(root!.spanId).toBe(trace.rootSpanId);
    for (const child of children) expect(child.parentSpanId).toBe(root!.spanId);
    expect(children[3]!.spanId).toBe(spanIdFor(trace.traceId, intent.intentId, 'audit/6'));
    expect(root!.attributes).toMatchObject({
      'countersign.action': 'iam:AttachRolePolicy',
      'countersign.environment': 'prod',
      'countersign.outcome': 'APPROVED',
      'countersign.approvers': ['alice@example.com'],
      'countersign.approver_groups': ['security-approvers'],
      'countersign.policies': ['review-prod-iam'],
      'countersign.time_to_decision_ms': 241_000,
      'aws.step_functions.execution_arn': 'arn:aws:states:us-east-1:000000000000:execution:countersign:x',
    });
    expect(root!.status).toBe('ok');
    expect(root!.events.map((e) => [e.name, e.at - T0])).toEqual([
      ['countersign.reminder', 120_000],
      ['countersign.escalation', 180_000],
    ]);
    expect(root!.links).toEqual([
      {
        traceId: '5759e988bd862e3fe1be46a994272793',
        spanId: '53995c3f42cd8ad8',
        attributes: { 'countersign.link': 'step-functions-execution' },
      },
    ]);
    expect(children[2]!.attributes).toMatchObject({ 'countersign.refusal_code': 'self-approval' });
  });

  it('the same trail gives the same spans in any Lambda (a retried export repeats ids)', () => {
    const intent = makeIntent();
    expect(requestSpans(requestOf(intent), reviewedChain(intent))).toEqual(
      requestSpans(requestOf(intent), reviewedChain(intent)),
    );
    expect(requestSpans(requestOf(intent), reviewedChain(intent)).trace).toEqual(
      requestTrace(intent.intentId),
    );
  });

  it('an expiry is the decision span and an event on the request span', () => {
    const intent = makeIntent();
    const chain = reviewedChain(intent).slice(0, 3);
    chain.push(
      ...chainOf(
        [
          {
            kind: 'expired',
            at: at(3600),
            actor: { type: 'system', component: 'record' },
            data: { final: true, decision: { status: 'EXPIRED', automatic: true, approvers: [] } },
          },
        ],
        intent.intentId,
      ).map((r) => ({ ...r, seq: 4 })),
    );
    const { spans } = requestSpans(requestOf(intent), chain);
    expect(spans.at(-1)).toMatchObject({
      name: 'countersign.decision',
      attributes: { 'countersign.outcome': 'EXPIRED' },
    });
    expect(spans[0]!.events.map((e) => e.name)).toContain('countersign.expiry');
    expect(spans[0]!.status).toBe('unset');
  });

  it('Review sends the opening steps, Record the rest: together the whole tree, each span once', () => {
    const intent = makeIntent();
    const chain = reviewedChain(intent);
    const names = (part: 'opening' | 'closing' | 'all') =>
      requestSpans(requestOf(intent), chain, { part }).spans.map((s) => s.name);
    expect(names('opening')).toEqual(['countersign.evaluate', 'countersign.notify']);
    expect(names('closing')).toEqual([
      'countersign.review',
      'countersign.refusal',
      'countersign.vote',
      'countersign.decision',
    ]);
    expect([...names('opening'), ...names('closing')].sort()).toEqual(names('all').sort());
    const notify = requestSpans(requestOf(intent), chain, { part: 'opening' }).spans[1]!;
    expect(notify.attributes).toMatchObject({
      'countersign.action': 'iam:AttachRolePolicy',
      'countersign.approver_groups': ['security-approvers'],
    });
    // A policy decision never reaches Review: Record sends the evaluation too.
    const automatic = [chain[0]!, chain[1]!, { ...chain[6]!, seq: 3 }];
    expect(requestSpans(requestOf(intent), automatic, { part: 'closing' }).spans.map((s) => s.name)).toEqual([
      'countersign.review',
      'countersign.evaluate',
      'countersign.decision',
    ]);
  });

  it('a pending request: the trace so far, marked pending', () => {
    const intent = makeIntent();
    const { spans } = requestSpans(requestOf(intent), reviewedChain(intent).slice(0, 3));
    expect(spans.map((s) => s.name)).toEqual([
      'countersign.review',
      'countersign.evaluate',
      'countersign.notify',
    ]);
    expect(spans[0]!.attributes['countersign.pending']).toBe(true);
    expect(spans[0]!.attributes['countersign.outcome']).toBeUndefined();
  });

  it(`is bounded: at most ${MAX_SPANS_PER_REQUEST} spans, the rest counted`, () => {
    const intent = makeIntent();
    const chain = reviewedChain(intent).slice(0, 3);
    const refusals = Array.from({ length: 300 }, (_, i) => ({
      kind: 'refused' as const,
      at: at(10 + i),
      actor: alice,
      data: { vote: 'approve', code: 'not-an-approver' },
    }));
    const all = [...chain, ...chainOf(refusals, intent.intentId).map((r, i) => ({ ...r, seq: 4 + i }))];
    const { spans, dropped } = requestSpans(requestOf(intent), all);
    expect(spans).toHaveLength(MAX_SPANS_PER_REQUEST);
    expect(dropped).toBe(302 - (MAX_SPANS_PER_REQUEST - 1));
    expect(spans[0]!.attributes['countersign.dropped_spans']).toBe(dropped);
  });

  it('no agent text reaches a span, whatever the agent writes', () => {
    const text = fc.string({ minLength: 12, maxLength: 40 }).map((s) => `Z${s.replace(/\s/g, '_')}Q`);
    fc.assert(
      fc.property(text, text, text, text, (justification, resource, value, key) => {
        const intent = {
          ...makeIntent(),
          justification,
          resource,
          parameters: { [key]: value, password: value },
          context: { impact: value, datasets: [value] },
        } as Intent;
        const exported = JSON.stringify(requestSpans(requestOf(intent), reviewedChain(intent)).spans);
        for (const secret of [justification, resource, value, key]) expect(exported).not.toContain(secret);
      }),
      { numRuns: 100 },
    );
  });
});
