/**
 * The Vitest configuration of one mutation group: the project's settings (one
 * worker, the same timeouts) with only the test files that exercise the
 * group's source files, so Stryker runs each mutant against the fewest tests
 * that can kill it. Each `test/mutation/<group>.vitest.ts` calls this.
 */
import { defineConfig, type ViteUserConfig } from 'vitest/config';
import base from '../../vitest.config.js';

/** A Vitest configuration that runs only `include` (paths from the repository root). */
export function mutationVitestConfig(include: string[]): ViteUserConfig {
  return defineConfig({
    ...base,
    test: { ...base.test, include, reporters: ['default'] },
  });
}
