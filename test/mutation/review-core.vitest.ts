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
    include: [
      'test/review-core/channels.test.ts',
      'test/review/break-glass.test.ts',
      'test/interaction/decisions.test.ts',
    ],
    // Each mutant starts these files' local servers again; on a loaded machine that can exceed a minute.
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});
