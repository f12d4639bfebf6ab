import { describe, expect, it } from 'vitest';
import { matchesPattern } from '../../sandbox/event-pattern.js';

const intentRule = {
  'detail-type': ['Privileged Action Requested'],
  source: [{ prefix: 'countersign.agent.' }],
};
const event = (source: string, detailType = 'Privileged Action Requested', detail: unknown = {}) => ({
  source,
  'detail-type': detailType,
  detail,
});

describe('matchesPattern', () => {
  it.each([
    ['an agent intent', event('countersign.agent.deploy-bot'), true],
    ['another detail-type', event('countersign.agent.deploy-bot', 'Privileged Action Decided'), false],
    ['a source without the agent prefix', event('countersign'), false],
    ['a source that only contains the prefix', event('x.countersign.agent.bot'), false],
    ['a missing source', { 'detail-type': 'Privileged Action Requested' }, false],
  ])('intent rule: %s -> %s', (_name, candidate, expected) => {
    expect(matchesPattern(intentRule, candidate)).toBe(expected);
  });

  it.each([
    [{ detail: { environment: ['prod'] } }, { detail: { environment: 'prod' } }, true],
    [{ detail: { environment: ['prod'] } }, { detail: { environment: 'dev' } }, false],
    [{ detail: { tags: ['pii'] } }, { detail: { tags: ['public', 'pii'] } }, true],
    [{ detail: { reason: [{ exists: false }] } }, { detail: {} }, true],
    [{ detail: { reason: [{ exists: true }] } }, { detail: {} }, false],
    [{ detail: { env: [{ 'anything-but': ['prod', 'staging'] }] } }, { detail: { env: 'dev' } }, true],
    [{ detail: { env: [{ 'anything-but': ['prod', 'staging'] }] } }, { detail: { env: 'prod' } }, false],
    [{ detail: { env: [{ 'equals-ignore-case': 'PROD' }] } }, { detail: { env: 'prod' } }, true],
    [{ detail: { file: [{ suffix: '.csv' }] } }, { detail: { file: 'export.csv' } }, true],
    [{ detail: { file: [{ wildcard: 'exports/*.csv' }] } }, { detail: { file: 'exports/q3.csv' } }, true],
    [{ detail: { file: [{ wildcard: 'exports/*.csv' }] } }, { detail: { file: 'exports/q3.json' } }, false],
    [{ detail: { rows: [{ numeric: ['>', 0, '<=', 1000] }] } }, { detail: { rows: 1000 } }, true],
    [{ detail: { rows: [{ numeric: ['>', 0, '<=', 1000] }] } }, { detail: { rows: 1001 } }, false],
    [{ detail: { nested: { deep: ['x'] } } }, { detail: { nested: 'x' } }, false],
  ])('%j matches %j -> %s', (pattern, candidate, expected) => {
    expect(matchesPattern(pattern, candidate)).toBe(expected);
  });

  it('rejects operators it does not know instead of guessing', () => {
    expect(() => matchesPattern({ source: [{ cidr: '10.0.0.0/8' }] }, { source: '10.0.0.1' })).toThrow(
      /unsupported/,
    );
  });
});
