/** Every audit writer builds its dependencies from the same environment, legal hold included. */
import { afterEach, describe, expect, it } from 'vitest';
import { auditObjectInput } from '../../lambdas/shared/audit.js';
import { auditDepsFromEnv } from '../../lambdas/shared/aws.js';

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

const configure = (extra: Record<string, string>) => {
  Object.assign(process.env, {
    COUNTERSIGN_TABLE_NAME: 'table',
    COUNTERSIGN_AUDIT_BUCKET: 'bucket',
    COUNTERSIGN_AUDIT_RETENTION_DAYS: '30',
    ...extra,
  });
  delete process.env.COUNTERSIGN_AUDIT_LEGAL_HOLD;
  Object.assign(process.env, extra);
};

describe('auditDepsFromEnv', () => {
  it('writes COMPLIANCE-retained objects, with a legal hold only when COUNTERSIGN_AUDIT_LEGAL_HOLD=ON', () => {
    configure({});
    const plain = auditDepsFromEnv();
    const now = () => new Date('2026-11-21T12:00:00Z');
    expect(auditObjectInput({ ...plain, now }, 'k', '{}')).toMatchObject({
      Bucket: 'bucket',
      ObjectLockMode: 'COMPLIANCE',
      ObjectLockRetainUntilDate: new Date('2026-12-21T12:00:00Z'),
    });
    expect(auditObjectInput({ ...plain, now }, 'k', '{}').ObjectLockLegalHoldStatus).toBeUndefined();

    configure({ COUNTERSIGN_AUDIT_LEGAL_HOLD: 'ON' });
    const held = auditDepsFromEnv();
    expect(auditObjectInput({ ...held, now }, 'k', '{}').ObjectLockLegalHoldStatus).toBe('ON');
  });

  it('fails at cold start, naming the variable, when one is missing', () => {
    configure({});
    delete process.env.COUNTERSIGN_AUDIT_BUCKET;
    expect(() => auditDepsFromEnv()).toThrow(/COUNTERSIGN_AUDIT_BUCKET/);
  });
});
