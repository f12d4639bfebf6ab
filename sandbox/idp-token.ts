/**
 * Prints an approval API access token from the sandbox's IdP for a person of
 * the sandbox directory, signing in without a browser:
 *
 *   npx tsx sandbox/idp-token.ts alice@example.com [--mfa] [--id-token]
 *
 * Environment: COUNTERSIGN_IDP_PORT, COUNTERSIGN_IDP_CLIENT_SECRET and
 * COUNTERSIGN_PORT, as `npm start` reads them.
 */
import { directoryPeople } from './idp.js';
import {
  CLI_CLIENT_ID,
  SANDBOX_API_AUDIENCE,
  SANDBOX_IDP_PORT,
  SANDBOX_WEB_CLIENT_SECRET,
  WEB_CALLBACK_PATH,
  WEB_CLIENT_ID,
} from './idp-constants.js';
import { signInHeadless } from './idp-sign-in.js';

const args = process.argv.slice(2);
const person = args.find((a) => !a.startsWith('--'));
if (!person) {
  console.error('usage: npx tsx sandbox/idp-token.ts <email> [--mfa] [--id-token]');
  process.exit(2);
}
const env = process.env;
const tokens = await signInHeadless(
  {
    issuer: `http://127.0.0.1:${env.COUNTERSIGN_IDP_PORT ?? SANDBOX_IDP_PORT}`,
    apiAudience: SANDBOX_API_AUDIENCE,
    web: {
      clientId: WEB_CLIENT_ID,
      clientSecret: env.COUNTERSIGN_IDP_CLIENT_SECRET || SANDBOX_WEB_CLIENT_SECRET,
      redirectUris: [`http://127.0.0.1:${env.COUNTERSIGN_PORT ?? 4010}${WEB_CALLBACK_PATH}`],
    },
    cli: { clientId: CLI_CLIENT_ID },
    people: directoryPeople(),
  },
  { person, mfa: args.includes('--mfa') },
).catch((error: Error) => {
  console.error(`idp-token: ${error.message}`);
  process.exit(1);
});
console.log(args.includes('--id-token') ? tokens.idToken : tokens.accessToken);
