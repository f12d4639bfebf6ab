/**
 * Vitest selection for the `auth` mutation group: the tests that exercise
 * inbound authentication (Slack signatures and replay guard, Bot Framework
 * JWTs, OIDC tokens).
 */
import { mutationVitestConfig } from './vitest-group.js';

export default mutationVitestConfig([
  'test/interaction/signature.test.ts',
  'test/teams/inbound-token.test.ts',
  'test/teams/review.test.ts',
  'test/identity/token-verifier.test.ts',
]);
