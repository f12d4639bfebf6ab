/**
 * Names and defaults of the sandbox's OpenID provider and web inbox, without
 * loading the provider (the loop and the token script import these).
 */
/** The local web inbox's origin (its own port, beside the sandbox's). */
export const SANDBOX_WEB_INBOX_URL = 'http://localhost:4012';

/** The web client's secret in `npm start` (development only, like the sandbox's Slack signing secret). */
export const SANDBOX_WEB_CLIENT_SECRET = 'countersign-sandbox-web-client-secret';

/** Default port of the sandbox's IdP. */
export const SANDBOX_IDP_PORT = 4011;

/** The web inbox's sign-in callback under its origin. */
export const WEB_CALLBACK_PATH = '/callback';

/** Default audience of the approval API's access tokens. */
export const SANDBOX_API_AUDIENCE = 'urn:countersign:approval-api';

/** Client id of the web inbox at the local IdP. */
export const WEB_CLIENT_ID = 'countersign-web';
/** Client id of the CLI at the local IdP. */
export const CLI_CLIENT_ID = 'countersign-cli';
