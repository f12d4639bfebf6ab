/**
 * Vitest selection for the `modification` mutation group: the pure half of an
 * approver's modification (which editable parameters changed, masked values in
 * the diff, whether the re-evaluated intent stays within its review), killed by
 * its own unit tests without starting any local server.
 */
import { defineConfig } from 'vitest/config';
import base from '../../vitest.config.js';

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['test/review-core/modification.test.ts'],
    reporters: ['default'],
  },
});
