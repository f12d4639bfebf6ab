/**
 * Vitest selection for the `review-core` mutation group: only the tests that
 * exercise the channel-neutral review core (vote recording, quorum, the single
 * conditional decision, stale versions, break-glass, modifications, denials),
 * so each mutant runs the fewest tests that can kill it.
 */
import { defineConfig } from 'vitest/config';
import base from '../../vitest.config.js';

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    // Unit tests of the core over dynalite and the fake Step Functions task API, started once per
    // file; the end-to-end files (Slack loop, workflow) stay in `npm test`.
    include: [
      'test/review-core/channels.test.ts',
      'test/review-core/decide.test.ts',
      'test/review-core/races.test.ts',
      'test/review-core/reevaluation.test.ts',
    ],
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
