/**
 * Vitest selection for the `web-session` mutation group: the web inbox's
 * inbound authentication (signed session and sign-in state cookies, the
 * anti-forgery token, the return path after sign-in) on the module itself.
 * The inbox's end-to-end tests (test/web, the web-inbox adversary) start an
 * IdP and the whole loop per run; they stay in `npm test`.
 */
import { mutationVitestConfig } from './vitest-group.js';

export default mutationVitestConfig(['test/web/session.test.ts', 'test/web/http.test.ts']);
