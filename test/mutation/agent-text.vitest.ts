/**
 * Vitest selection for the `agent-text` mutation group: the renderers case by
 * case, their properties, and the inert-card tests, which assert that agent
 * text reaches a person only as inert data, so each mutant runs the fewest
 * tests that can kill it.
 */
import { defineConfig } from 'vitest/config';
import base from '../../vitest.config.js';

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [
      'test/review/agent-text.test.ts',
      'test/review/agent-text.property.test.ts',
      'test/review/inert-card.test.ts',
    ],
    reporters: ['default'],
  },
});
