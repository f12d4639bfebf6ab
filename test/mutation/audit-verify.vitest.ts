/**
 * Vitest selection for the `audit-verify` mutation group: only the `audit
 * verify` tests (the tamper corpus and the in-memory cases), so each mutant
 * runs the fewest tests that can kill it.
 */
import { defineConfig } from 'vitest/config';
import base from '../../vitest.config.js';

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['test/audit/verify.test.ts'],
    reporters: ['default'],
  },
});
