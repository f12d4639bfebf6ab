/** Runs every case in policies/tests/*.json against the repository's policies. */
import { describe, expect, it } from 'vitest';
import { runPolicyCases } from '../../cli/policy.js';
import { DEFAULTS, POLICY_DIR } from './helpers.js';

const results = runPolicyCases({ policyDir: POLICY_DIR, defaults: DEFAULTS });

describe('policy test cases (policies/tests)', () => {
  it('has cases', () => {
    expect(results.length).toBeGreaterThanOrEqual(20);
  });

  it.each(results.map((r) => [`${r.file}: ${r.name}`, r] as const))('%s', (_name, result) => {
    expect(result.problems).toEqual([]);
  });
});
