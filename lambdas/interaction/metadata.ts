/**
 * Tamper-checked modal `private_metadata`. A modal's submission comes back
 * from Slack carrying whatever `private_metadata` the view holds; a Slack user
 * cannot edit it in the client, but anyone holding the signing secret's
 * request format (or a compromised client) could. So the metadata names what
 * the modal is for and is signed server-side; a submission is acted on only
 * when the signature verifies and every bound field still matches.
 *
 * Format (ASCII, at most a few hundred characters; Slack allows 3,000):
 *
 *     v1.<base64url(JSON {"r":requestId,"a":action,"h":intentHash,"e":expiryEpochSeconds,"u":slackUserId})>.<base64url(HMAC-SHA256)>
 *
 * The MAC is HMAC-SHA256 over `v1.<payload>` under a key derived from the
 * Slack signing secret with a distinct label
 * (`HMAC-SHA256(signingSecret, "countersign/private-metadata/v1")`), so a
 * metadata MAC can never be confused with a Slack request signature and no
 * second secret has to be provisioned or rotated.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a modal is for. */
export type ModalAction = 'deny' | 'modify' | 'breakglass';

/** The fields bound into a modal's metadata. */
export interface ModalMetadata {
  /** Request (intent) id. */
  requestId: string;
  action: ModalAction;
  /** Hash of the intent as the modal showed it (the modified one when modified). */
  intentHash: string;
  /** Epoch seconds after which the submission is refused. */
  expiresAt: number;
  /** The Slack user the modal was opened for. */
  userId: string;
}

/** Label of the derived key; changing it invalidates every open modal. */
export const METADATA_KEY_LABEL = 'countersign/private-metadata/v1';
/** How long a modal stays submittable when the review lasts longer. */
export const MODAL_TTL_SECONDS = 30 * 60;

const ACTIONS: readonly ModalAction[] = ['deny', 'modify', 'breakglass'];

const keyFor = (signingSecret: string) =>
  createHmac('sha256', signingSecret).update(METADATA_KEY_LABEL).digest();

const mac = (signingSecret: string, signed: string) =>
  createHmac('sha256', keyFor(signingSecret)).update(signed).digest();

/** Signs metadata for a modal. */
export function signMetadata(signingSecret: string, metadata: ModalMetadata): string {
  const payload = Buffer.from(
    JSON.stringify({
      r: metadata.requestId,
      a: metadata.action,
      h: metadata.intentHash,
      e: metadata.expiresAt,
      u: metadata.userId,
    }),
    'utf8',
  ).toString('base64url');
  const signed = `v1.${payload}`;
  return `${signed}.${mac(signingSecret, signed).toString('base64url')}`;
}

/** Outcome of {@link verifyMetadata}. `claimed` is the unverified request id, for auditing a refusal. */
export type MetadataCheck =
  | { ok: true; metadata: ModalMetadata }
  | { ok: false; reason: string; claimed?: string };

/** Verifies the signature and expiry of a modal's metadata. */
export function verifyMetadata(signingSecret: string, text: unknown, nowSeconds: number): MetadataCheck {
  if (typeof text !== 'string' || text.length === 0 || text.length > 3000)
    return { ok: false, reason: 'the form carries no Countersign metadata' };
  const parts = text.split('.');
  if (parts.length !== 3 || parts[0] !== 'v1')
    return { ok: false, reason: 'the form metadata is not in Countersign format' };
  const [version, payload, signature] = parts as [string, string, string];
  let fields: Record<string, unknown>;
  try {
    fields = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return { ok: false, reason: 'the form metadata is not in Countersign format' };
  }
  const claimed = typeof fields?.r === 'string' ? fields.r : undefined;
  const expected = mac(signingSecret, `${version}.${payload}`);
  const received = Buffer.from(signature, 'base64url');
  if (received.length !== expected.length || !timingSafeEqual(received, expected)) {
    return { ok: false, reason: 'the form metadata was tampered with (signature mismatch)', claimed };
  }
  const { r, a, h, e, u } = fields;
  if (
    typeof r !== 'string' ||
    typeof h !== 'string' ||
    typeof u !== 'string' ||
    typeof e !== 'number' ||
    !ACTIONS.includes(a as ModalAction)
  ) {
    return { ok: false, reason: 'the form metadata is incomplete', claimed };
  }
  if (nowSeconds > e) return { ok: false, reason: 'this form has expired; open it again', claimed };
  return {
    ok: true,
    metadata: { requestId: r, action: a as ModalAction, intentHash: h, expiresAt: e, userId: u },
  };
}
