/**
 * Vitest selection for the `identity` mutation group: the tests that exercise
 * identity resolution, email canonicalisation and the voter invariants
 * (self-approval, agents never vote, unresolved never votes) on the modules
 * themselves. The handler-level tests of the same invariants
 * (self-approval.test.ts, signed-in-actors.test.ts, break-glass.test.ts)
 * start a whole harness per run and are left out to keep the run short.
 */
import { mutationVitestConfig } from './vitest-group.js';

export default mutationVitestConfig([
  'test/identity/canonical-email.test.ts',
  'test/identity/slack-identity.test.ts',
  'test/identity/actor-resolver.test.ts',
  'test/identity/slack-resolver.test.ts',
  'test/interaction/identity.test.ts',
  'test/review-core/eligibility.test.ts',
]);
