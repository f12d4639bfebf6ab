/**
 * Vitest selection for the `identity` mutation group: the tests that exercise
 * identity resolution, email canonicalisation and the voter invariants
 * (self-approval, agents never vote, unresolved never votes).
 */
import { mutationVitestConfig } from './vitest-group.js';

export default mutationVitestConfig([
  'test/identity/canonical-email.test.ts',
  'test/identity/slack-identity.test.ts',
  'test/identity/signed-in-actors.test.ts',
  'test/interaction/identity.test.ts',
  'test/interaction/self-approval.test.ts',
  'test/interaction/policy-rule.test.ts',
  'test/review-core/eligibility.test.ts',
]);
