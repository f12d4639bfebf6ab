/**
 * The pure half of a modification: which editable parameters an approver
 * changed (masked values stay masked in the diff), whether anything outside
 * them changed, and whether the re-evaluated intent stays within the review it
 * is in. What the card, the audit record and the refusal say comes from here.
 */
import { describe, expect, it } from 'vitest';
import {
  diffParameters,
  getAt,
  judgeReevaluation,
  parameterSegments,
} from '../../lambdas/review-core/modification.js';
import { MASK } from '../../lambdas/shared/masking.js';
import type { ReviewPlan } from '../../lambdas/shared/store.js';

const plan = (over: Partial<ReviewPlan> = {}): ReviewPlan => ({
  quorum: 2,
  timeoutSeconds: 900,
  approverGroups: ['dba'],
  approverEmails: ['lead@example.com'],
  policies: ['prod-export'],
  masked: [],
  editable: ['parameters.rowLimit'],
  ...over,
});

describe('diffParameters', () => {
  it('lists the editable parameters that changed, with their old and new values', () => {
    const read = diffParameters(
      { rowLimit: 10, region: 'eu-west-1', dryRun: true },
      { rowLimit: 500, region: 'eu-west-1', dryRun: true },
      plan({ editable: ['parameters.rowLimit', 'dryRun'] }),
    );
    expect(read).toEqual({ diff: [{ path: 'parameters.rowLimit', from: 10, to: 500 }], outside: false });
  });

  it('flags a change outside the editable parameters, however small', () => {
    const read = diffParameters(
      { rowLimit: 10, region: 'eu-west-1' },
      { rowLimit: 10, region: 'us-east-1' },
      plan(),
    );
    expect(read).toEqual({ diff: [], outside: true });
  });

  it('flags an added or removed parameter that is not editable', () => {
    expect(diffParameters({ rowLimit: 10 }, { rowLimit: 10, table: 'users' }, plan()).outside).toBe(true);
    expect(diffParameters({ rowLimit: 10, table: 'users' }, { rowLimit: 10 }, plan()).outside).toBe(true);
  });

  it('treats a nested editable path as the only editable part of its object', () => {
    const editable = plan({ editable: ['limits.rows'] });
    const before = { limits: { rows: 10, bytes: 100 } };
    expect(diffParameters(before, { limits: { rows: 20, bytes: 100 } }, editable)).toEqual({
      diff: [{ path: 'limits.rows', from: 10, to: 20 }],
      outside: false,
    });
    expect(diffParameters(before, { limits: { rows: 20, bytes: 999 } }, editable)).toEqual({
      diff: [{ path: 'limits.rows', from: 10, to: 20 }],
      outside: true,
    });
  });

  it('shows an editable parameter that was added or removed as null on the missing side', () => {
    const editable = plan({ editable: ['parameters.note', 'limits.rows'] });
    expect(diffParameters({}, { note: 'late' }, editable).diff).toEqual([
      { path: 'parameters.note', from: null, to: 'late' },
    ]);
    expect(diffParameters({ note: 'late', limits: { rows: 5 } }, { limits: 'none' }, editable)).toEqual({
      diff: [
        { path: 'parameters.note', from: 'late', to: null },
        { path: 'limits.rows', from: 5, to: null },
      ],
      outside: true,
    });
  });

  it('keeps a masked parameter masked in the diff, saying only that it changed', () => {
    const read = diffParameters(
      { password: 'old-secret', rowLimit: 1 },
      { password: 'new-secret', rowLimit: 1 },
      plan({ editable: ['password'], masked: ['password'] }),
    );
    expect(read.diff).toEqual([{ path: 'password', from: MASK, to: `${MASK} (changed)` }]);
    expect(JSON.stringify(read)).not.toMatch(/secret/);
  });

  it('shows a masked parameter set for the first time as masked, not as changed', () => {
    const read = diffParameters({}, { dsn: 'x' }, plan({ editable: ['dsn'], masked: ['dsn'] }));
    expect(read.diff).toEqual([{ path: 'dsn', from: null, to: MASK }]);
  });

  it('does not make a whole parameter editable through a path into it when it is not an object', () => {
    const editable = plan({ editable: ['limits.rows'] });
    expect(diffParameters({ limits: 5 }, { limits: 6 }, editable).outside).toBe(true);
    expect(diffParameters({ limits: null }, { limits: { rows: 5 } }, editable)).toEqual({
      diff: [{ path: 'limits.rows', from: null, to: 5 }],
      outside: true,
    });
  });

  it('does not reach into arrays: changing an element is a change outside the editable parameters', () => {
    const read = diffParameters(
      { hosts: ['a', 'b'] },
      { hosts: ['a', 'c'] },
      plan({ editable: ['hosts.1'] }),
    );
    expect(read.outside).toBe(true);
  });

  it('shows a masked parameter that was removed as null, not as changed', () => {
    const read = diffParameters({ dsn: 'x' }, {}, plan({ editable: ['dsn'], masked: ['dsn'] }));
    expect(read.diff).toEqual([{ path: 'dsn', from: MASK, to: null }]);
  });

  it('ignores an editable path with no segments: nothing becomes editable through it', () => {
    const read = diffParameters({ rowLimit: 1 }, { rowLimit: 2 }, plan({ editable: ['', 'parameters.'] }));
    expect(read).toEqual({ diff: [], outside: true });
    // Parameter names are the agent's: not even one named "undefined" becomes editable.
    expect(diffParameters({ undefined: 1 }, { undefined: 2 }, plan({ editable: [''] })).outside).toBe(true);
  });
});

describe('parameter paths', () => {
  it('read `parameters.` as optional and skip empty segments', () => {
    expect(parameterSegments('parameters.limits.rows')).toEqual(['limits', 'rows']);
    expect(parameterSegments('limits..rows.')).toEqual(['limits', 'rows']);
    expect(parameterSegments('parametersX.rows')).toEqual(['parametersX', 'rows']);
  });

  it('find nothing through a string, a number or null', () => {
    expect(getAt({ a: { b: 1 } }, ['a', 'b'])).toBe(1);
    expect(getAt({ a: 'text' }, ['a', 'length'])).toBeUndefined();
    expect(getAt({ a: null }, ['a', 'b'])).toBeUndefined();
    expect(getAt({ a: 7 }, ['a', 'b'])).toBeUndefined();
  });
});

describe('judgeReevaluation', () => {
  const verdict = (over: Partial<Parameters<typeof judgeReevaluation>[1]> = {}) => ({
    outcome: 'review' as const,
    reason: 'review required',
    warnings: [],
    policies: ['prod-export'],
    review: plan(),
    ...over,
  });

  it('accepts a modification policy would allow outright, or review the same way', () => {
    expect(judgeReevaluation(plan(), verdict({ outcome: 'allow', review: undefined }))).toEqual({ ok: true });
    expect(judgeReevaluation(plan(), verdict())).toEqual({ ok: true });
  });

  it('accepts a lighter review: fewer approvals, a subset of the approvers', () => {
    const lighter = plan({ quorum: 1, approverGroups: [], approverEmails: [], policies: [] });
    expect(judgeReevaluation(plan(), verdict({ review: lighter }))).toEqual({ ok: true });
  });

  it('refuses what policy would deny, with policy’s reason', () => {
    expect(judgeReevaluation(plan(), verdict({ outcome: 'deny', reason: 'bulk export of prod' }))).toEqual({
      ok: false,
      reason: 'Policy would deny the modified request: bulk export of prod',
    });
  });

  it('refuses what could not be fully evaluated, naming the first warning, even when policy allows', () => {
    expect(
      judgeReevaluation(plan(), verdict({ outcome: 'allow', warnings: ['entity store down', 'second'] })),
    ).toEqual({
      ok: false,
      reason:
        'The modified request could not be fully evaluated (entity store down); keep the original or deny.',
    });
  });

  it('refuses a review with no plan', () => {
    expect(judgeReevaluation(plan(), verdict({ review: undefined }))).toEqual({
      ok: false,
      reason: 'Policy returned no review plan for the modified request.',
    });
  });

  it('refuses a heavier quorum', () => {
    expect(judgeReevaluation(plan(), verdict({ review: plan({ quorum: 3 }) }))).toEqual({
      ok: false,
      reason:
        'The modified request needs 3 approvals (this review has 2); ask the agent to submit it as a new request.',
    });
  });

  it('refuses a review by other policies or other approvers, naming each', () => {
    const other = plan({
      policies: ['prod-export', 'pii-export'],
      approverGroups: ['dba', 'privacy'],
      approverEmails: ['lead@example.com', 'dpo@example.com'],
    });
    expect(judgeReevaluation(plan(), verdict({ review: other }))).toEqual({
      ok: false,
      reason:
        'The modified request needs a different review (policy pii-export, @privacy, dpo@example.com); ask the agent to submit it as a new request.',
    });
    expect(
      judgeReevaluation(plan(), verdict({ review: plan({ approverEmails: ['dpo@example.com'] }) })),
    ).toEqual({
      ok: false,
      reason:
        'The modified request needs a different review (dpo@example.com); ask the agent to submit it as a new request.',
    });
    expect(
      judgeReevaluation(plan(), verdict({ review: plan({ approverGroups: ['privacy'] }) })),
    ).toMatchObject({
      ok: false,
      reason: expect.stringContaining('(@privacy)'),
    });
  });
});
