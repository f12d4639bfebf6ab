/**
 * `npm run demo` still behaves as the README says once owners are bound and
 * environments derived: every demo intent verifies against the sandbox's
 * registry and cdk.json environments, and policy gives each its advertised outcome.
 */
import { describe, expect, it } from 'vitest';
import { evaluateIntent } from '../../lambdas/shared/policy.js';
import { verifyIntent } from '../../lambdas/shared/registration.js';
import { demoIntents } from '../../sandbox/demo.js';
import { sandboxVerification } from '../support/fixtures.js';

const DEFAULTS = { approverGroup: 'security-approvers', timeoutSeconds: 3600 };

describe('demo intents', () => {
  it.each([
    ['Customer-data export (prod)', 'prod', 'review', 1],
    ['Role escalation (prod)', 'prod', 'review', 2],
    ['Key rotation (prod)', 'prod', 'review', 1],
    ['Read-only for reporting (prod)', 'prod', 'review', 1],
    ['Read a build log (dev)', 'dev', 'allow', undefined],
  ] as const)('%s: derived %s, outcome %s', (label, environment, outcome, quorum) => {
    // Prepare
    const step = demoIntents().find((s) => s.label === label)!;
    // Act
    const verified = verifyIntent(sandboxVerification(), 'deploy-bot', step.intent);
    // Assess
    expect(verified).toMatchObject({ ok: true, facts: { environment, owner: 'erin@example.com' } });
    if (!verified.ok) return;
    const verdict = evaluateIntent(
      { intent: step.intent, agentId: 'deploy-bot', verified: verified.facts },
      DEFAULTS,
    );
    expect(verdict.outcome).toBe(outcome);
    expect(verdict.review?.quorum).toBe(quorum);
  });
});
