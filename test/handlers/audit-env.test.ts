/** Every audit writer builds its dependencies from the same environment, legal hold included. */
import { afterEach, describe, expect, it } from 'vitest';
import { auditObjectInput } from '../../lambdas/shared/audit.js';
import { auditDepsFromEnv } from '../../lambdas/shared/aws.js';
import { objectLockFromEnv } from '../../lambdas/shared/s3.js';

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

describe('objectLockFromEnv', () => {
  it('locks objects under COMPLIANCE retention from their own time, with a legal hold only when COUNTERSIGN_AUDIT_LEGAL_HOLD=ON', () => {
    configure({});
    const plain = objectLockFromEnv();
    const at = new Date('2026-11-21T12:00:00Z');
    expect(auditObjectInput(plain, 'k', '{}', at)).toMatchObject({
      Bucket: 'bucket',
      ObjectLockMode: 'COMPLIANCE',
      ObjectLockRetainUntilDate: new Date('2026-12-21T12:00:00Z'),
    });
    expect(auditObjectInput(plain, 'k', '{}', at).ObjectLockLegalHoldStatus).toBeUndefined();

    configure({ COUNTERSIGN_AUDIT_LEGAL_HOLD: 'ON' });
    expect(auditObjectInput(objectLockFromEnv(), 'k', '{}', at).ObjectLockLegalHoldStatus).toBe('ON');
  });

  it('fails at cold start, naming the variable, when one is missing', () => {
    configure({});
    delete process.env.COUNTERSIGN_AUDIT_BUCKET;
    expect(() => objectLockFromEnv()).toThrow(/COUNTERSIGN_AUDIT_BUCKET/);
    configure({});
    delete process.env.COUNTERSIGN_TABLE_NAME;
    expect(() => auditDepsFromEnv()).toThrow(/COUNTERSIGN_TABLE_NAME/);
  });
});
