/**
 * Vitest selection for the `auth` mutation group: the tests that exercise
 * inbound authentication on the verifiers themselves (Slack signatures and
 * replay guard, Bot Framework JWTs, OIDC tokens). The end-to-end 401 tests
 * (signature.test.ts, teams/review.test.ts) start a whole harness per run and
 * kill nothing these do not, so they are left out to keep the run short.
 */
import { mutationVitestConfig } from './vitest-group.js';

export default mutationVitestConfig([
  'test/interaction/signature-check.test.ts',
  'test/teams/inbound-token.test.ts',
  'test/identity/token-verifier.test.ts',
  'test/identity/token-claims.test.ts',
]);
