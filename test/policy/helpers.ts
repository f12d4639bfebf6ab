/** Shared helpers for the policy tests: temp policy directories and intents. */
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Intent } from '../../lambdas/shared/intent.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const POLICY_DIR = join(REPO, 'policies');
export const SCHEMA = join(POLICY_DIR, 'countersign.cedarschema');
export const DEFAULTS = { approverGroup: 'security-approvers', timeoutSeconds: 3600 };

/** A temp policy directory with the real schema and the given files (relative path -> text). */
export function policyDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-policies-'));
  copyFileSync(SCHEMA, join(dir, 'countersign.cedarschema'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

/** A valid intent with overrides. */
export function intent(overrides: Partial<Intent> = {}): Intent {
  return {
    intentId: 'intent-test-0001',
    action: 'ec2:RunInstances',
    resource: 'arn:aws:ec2:us-east-1:123456789012:instance/*',
    environment: 'prod',
    justification: 'test',
    parameters: {},
    agent: {
      model: 'claude',
      sessionId: 'sess-1',
      onBehalfOf: 'carol@example.com',
      owner: 'owner@example.com',
    },
    ...overrides,
  };
}

/** A `request` policy text. */
export const requestPolicy = (annotations: string, when: string, effect: 'permit' | 'forbid' = 'permit') =>
  `${annotations}\n${effect} (principal, action == Countersign::Action::"request", resource)\nwhen { ${when} };\n`;
