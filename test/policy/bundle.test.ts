/** The policy bundle: validation errors name file:line:column; ids, annotations and digest. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildPolicyBundle, PolicyBundleError } from '../../lib/policy-bundle.js';
import { POLICY_DIR, policyDir, requestPolicy } from './helpers.js';

const allowDev = requestPolicy('@id("allow-dev")\n@outcome("allow")', 'resource.environment == "dev"');

function buildError(dir: string): PolicyBundleError {
  try {
    buildPolicyBundle(dir);
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyBundleError);
    return error as PolicyBundleError;
  }
  throw new Error('expected the bundle build to fail');
}

describe('buildPolicyBundle', () => {
  it('builds the default policy set with @id keys, sources and a sha256 digest', () => {
    // Act
    const bundle = buildPolicyBundle(POLICY_DIR);
    // Assess
    expect(Object.keys(bundle.policies)).toContain('review-prod-privilege-escalation');
    expect(bundle.policies['deny-account-destruction']).toMatch(/^@id\("deny-account-destruction"\)/);
    expect(bundle.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(bundle.sources?.['allow-dev-read-only']).toMatch(/10-allow-dev-read-only\.cedar:\d+$/);
    expect(buildPolicyBundle(POLICY_DIR).digest).toBe(bundle.digest);
  });

  it('changes the digest when a policy changes, and reads policies in subdirectories', () => {
    const dir = policyDir({ 'a.cedar': allowDev });
    const before = buildPolicyBundle(dir).digest;
    writeFileSync(join(dir, 'b.cedar'), allowDev.replace('allow-dev', 'allow-dev-2'));
    const after = buildPolicyBundle(dir);
    expect(after.digest).not.toBe(before);
    const nested = policyDir({ 'teams/data/x.cedar': allowDev });
    expect(Object.keys(buildPolicyBundle(nested).policies)).toEqual(['allow-dev']);
  });

  it('names file:line:column and Cedar’s message on a syntax error', () => {
    // Prepare: line 4 has `when (` instead of `when {`.
    const dir = policyDir({
      'ok.cedar': allowDev,
      'broken.cedar': `// a comment\n@id("x")\n@outcome("allow")\npermit (principal, action, resource) when ( true };\n`,
    });
    // Act
    const error = buildError(dir);
    // Assess
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatchObject({ line: 4, column: 43 });
    expect(error.message).toMatch(/broken\.cedar:4:43: .*unexpected token/);
  });

  it('names file:line:column for a policy that does not validate against the schema', () => {
    const dir = policyDir({
      'ok.cedar': allowDev,
      'invalid.cedar': `${allowDev.replace('allow-dev', 'a2')}\n${requestPolicy(
        '@id("uses-unknown-attribute")\n@outcome("review")',
        'resource.environment == "prod" &&\n  resource.ticket == "CHG-1"',
      )}`,
    });
    const error = buildError(dir);
    expect(error.message).toMatch(
      /invalid\.cedar:10:3: .*attribute `ticket` on entity type `Countersign::Intent` not found/,
    );
  });

  it('rejects reading an optional parameter without a `has` guard', () => {
    const dir = policyDir({
      'p.cedar': requestPolicy('@id("row-limit")\n@outcome("allow")', 'resource.parameters.rowLimit < 100'),
    });
    expect(buildError(dir).message).toMatch(/p\.cedar:4:8: .*optional attribute `parameters\.rowLimit`/);
  });

  it('names the schema file on a schema error', () => {
    const dir = policyDir({ 'ok.cedar': allowDev });
    writeFileSync(
      join(dir, 'countersign.cedarschema'),
      'namespace Countersign {\n  entity Agent = { id: Strin };\n}\n',
    );
    const error = buildError(dir);
    expect(error.message).toMatch(/countersign\.cedarschema:\d+:\d+: /);
  });

  it.each([
    ['a missing @id', requestPolicy('@outcome("allow")', 'true'), /no @id/],
    [
      'an unknown annotation (a typo must not weaken a review)',
      requestPolicy('@id("p")\n@outcome("review")\n@qourum("2")', 'true'),
      /unknown annotation @qourum/,
    ],
    [
      'a permit without @outcome',
      requestPolicy('@id("p")', 'true'),
      /needs @outcome\("allow"\) or @outcome\("review"\)/,
    ],
    [
      'review settings on an allow policy',
      requestPolicy('@id("p")\n@outcome("allow")\n@quorum("2")', 'true'),
      /only apply to @outcome\("review"\)/,
    ],
    [
      'a quorum of zero',
      requestPolicy('@id("p")\n@outcome("review")\n@quorum("0")', 'true'),
      /@quorum\("0"\) must be between 1 and 10/,
    ],
    [
      'a timeout that is not a number',
      requestPolicy('@id("p")\n@outcome("review")\n@timeout("1h")', 'true'),
      /@timeout\("1h"\) must be a whole number/,
    ],
    [
      'a reminder outside the timeout',
      requestPolicy('@id("p")\n@outcome("review")\n@timeout("600")\n@remind("900")', 'true'),
      /not inside @timeout/,
    ],
    [
      'a malformed approver',
      requestPolicy('@id("p")\n@outcome("review")\n@approvers("security-approvers")', 'true'),
      /must be "group:<slack-handle>" or "email:<address>"/,
    ],
    [
      'a mask path outside parameters',
      requestPolicy('@id("p")\n@outcome("review")\n@mask("justification")', 'true'),
      /must be a dot path starting with "parameters\."/,
    ],
    [
      'the reserved default-review id',
      requestPolicy('@id("default-review")\n@outcome("review")', 'true'),
      /reserved/,
    ],
  ])('rejects %s with the policy’s location', (_what, text, message) => {
    const dir = policyDir({ 'p.cedar': `// header\n${text}` });
    const error = buildError(dir);
    expect(error.message).toMatch(message);
    expect(error.message).toMatch(/p\.cedar:2:1: /);
  });

  it('rejects duplicate ids, naming both places', () => {
    const dir = policyDir({ 'a.cedar': allowDev, 'b.cedar': `\n\n${allowDev}` });
    expect(buildError(dir).message).toMatch(
      /b\.cedar:3:1: duplicate @id\("allow-dev"\); first used at .*a\.cedar:1:1/,
    );
  });

  it('fails without a schema', () => {
    const dir = policyDir({ 'a.cedar': allowDev });
    writeFileSync(join(dir, 'countersign.cedarschema'), '');
    // an empty schema parses but then nothing validates
    expect(() => buildPolicyBundle(dir)).toThrow(PolicyBundleError);
  });
});
