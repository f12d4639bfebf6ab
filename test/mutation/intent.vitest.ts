/**
 * Vitest selection for the `intent` mutation group: the tests that exercise
 * intent parsing and validation, strict JSON, canonical JSON and hashing.
 */
import { mutationVitestConfig } from './vitest-group.js';

export default mutationVitestConfig([
  'test/shared/intent.test.ts',
  'test/shared/strict-json.test.ts',
  'test/shared/canonical.test.ts',
  'test/adversary/intent-rules.test.ts',
  'test/adversary/fuzz.test.ts',
]);
