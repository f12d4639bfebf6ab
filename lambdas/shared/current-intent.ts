/**
 * The version of a request's intent that is up for approval: pure functions
 * over the request item, for the store and for everything that renders a
 * request without touching the store.
 */
import type { Intent } from './intent.js';

/** The parts of a request item that name its current version. */
interface Versioned {
  intent: Intent;
  intentHash: string;
  modification?: { parameters: Record<string, unknown>; intentHash: string };
}

/** The intent as it stands for approval: the agent's, with the modified parameters when modified. */
export function currentIntent(request: Pick<Versioned, 'intent' | 'modification'>): Intent {
  return request.modification
    ? { ...request.intent, parameters: request.modification.parameters }
    : request.intent;
}

/** Hash of {@link currentIntent}: what approvals, modals and the decision are bound to. */
export const currentHash = (request: Pick<Versioned, 'intentHash' | 'modification'>): string =>
  request.modification?.intentHash ?? request.intentHash;
