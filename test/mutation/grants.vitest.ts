/**
 * Vitest selection for the `grants` mutation group: only the tests that
 * exercise single-use grants (consume, expiry, ownership), the grant API and
 * the credential exchange, so each mutant runs the fewest tests that can kill it.
 */
import { defineConfig } from 'vitest/config';
import base from '../../vitest.config.js';

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['test/agent/grants.test.ts', 'test/enforcement/exchange.test.ts'],
    reporters: ['default'],
  },
});
