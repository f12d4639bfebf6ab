/**
 * Vitest selection for the `intent` mutation group: the tests that exercise
 * intent parsing and validation, strict JSON, canonical JSON and hashing on
 * the modules themselves. The adversary cases over the same rules
 * (intent-rules.test.ts, fuzz.test.ts) load the sandbox and run property
 * tests for minutes per run, so they are left out to keep the run short.
 */
import { mutationVitestConfig } from './vitest-group.js';

export default mutationVitestConfig([
  'test/shared/intent.test.ts',
  'test/shared/strict-json.test.ts',
  'test/shared/canonical.test.ts',
]);
