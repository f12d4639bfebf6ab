/**
 * Vitest selection for the `masking` mutation group: only the masking tests.
 * Its patterns are module-level (static mutants run every selected test), so
 * the selection is the one fast file that asserts what is masked and what is
 * left alone.
 */
import { defineConfig } from 'vitest/config';
import base from '../../vitest.config.js';

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['test/policy/masking.test.ts'],
    reporters: ['default'],
  },
});
