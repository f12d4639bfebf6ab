/**
 * Step-up: what a high-risk request needs of an approver's sign-in, from the
 * `@stepup` annotation of its review policies, and whether a sign-in meets it.
 *
 * Syntax: `@stepup("<methods> <max age>")`: one or more `amr` values (any one
 * satisfies), separated by spaces, commas or `|`, then an ISO 8601 duration of
 * at most a day: `@stepup("mfa PT10M")`, `@stepup("hwk|swk PT5M")`. Several
 * matching policies combine to the strictest: every method list must be met
 * and the shortest maximum age applies. Deny never needs step-up.
 */
import type { SignIn, StepUpRequirement } from './contract.js';

/** The refusal code of an approval whose sign-in does not meet the request's step-up. */
export const STEP_UP_REFUSAL = 'step-up-required';

/** Bounds of a step-up's maximum age. */
export const STEP_UP_LIMITS = { minSeconds: 60, maxSeconds: 24 * 3600 } as const;

/** Environment variable of the web inbox's base URL (config `webInboxUrl`). */
export const WEB_INBOX_URL_ENV = 'COUNTERSIGN_WEB_INBOX_URL';

/** Allowed clock skew when an `auth_time` lies slightly in the future. */
const AUTH_TIME_SKEW_SECONDS = 60;

const AMR_VALUE = /^[A-Za-z0-9_.:-]{1,64}$/;
const DURATION = /^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?$/;

/** Parses an ISO 8601 time duration (`PT10M`, `PT1H30M`, `PT90S`) to seconds. */
function durationSeconds(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m || (!m[1] && !m[2] && !m[3])) return undefined;
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

/** Reads a `@stepup` annotation value: the requirement, or the problem with it. */
export function parseStepUp(
  value: string,
): { ok: true; requirement: StepUpRequirement } | { ok: false; error: string } {
  const usage = 'write @stepup("<amr values> <max age>"), e.g. @stepup("mfa PT10M")';
  const tokens = value
    .trim()
    .split(/[\s,|]+/)
    .filter(Boolean);
  const age = tokens.pop();
  const seconds = age === undefined ? undefined : durationSeconds(age);
  if (seconds === undefined)
    return { ok: false, error: `@stepup("${value}") does not end with a duration like PT10M; ${usage}` };
  if (seconds < STEP_UP_LIMITS.minSeconds || seconds > STEP_UP_LIMITS.maxSeconds)
    return {
      ok: false,
      error: `@stepup("${value}"): the maximum age must be from ${STEP_UP_LIMITS.minSeconds} seconds to ${STEP_UP_LIMITS.maxSeconds / 3600} hours`,
    };
  if (tokens.length === 0)
    return { ok: false, error: `@stepup("${value}") names no authentication method; ${usage}` };
  const bad = tokens.find((t) => !AMR_VALUE.test(t));
  if (bad !== undefined) return { ok: false, error: `@stepup("${value}"): "${bad}" is not an amr value` };
  return { ok: true, requirement: { amr: [...new Set(tokens)], maxAgeSeconds: seconds } };
}

const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));

/**
 * The strictest combination of several requirements: the shortest maximum
 * age, and every method list (one list when a method satisfies them all).
 * Undefined when none requires step-up.
 */
export function combineStepUps(
  requirements: (StepUpRequirement | undefined)[],
): StepUpRequirement | undefined {
  const stated = requirements.filter((r): r is StepUpRequirement => r !== undefined);
  if (stated.length === 0) return undefined;
  const lists: string[][] = [];
  for (const r of stated)
    for (const list of [r.amr, ...(r.allOf ?? [])])
      if (!lists.some((l) => sameSet(l, list))) lists.push([...list].sort());
  lists.sort((a, b) => a.join(' ').localeCompare(b.join(' ')));
  const maxAgeSeconds = Math.min(...stated.map((r) => r.maxAgeSeconds));
  const common = lists.slice(1).reduce((acc, l) => acc.filter((m) => l.includes(m)), lists[0]!);
  if (lists.length === 1 || common.length > 0) return { amr: common, maxAgeSeconds };
  return { amr: lists[0]!, maxAgeSeconds, allOf: lists.slice(1) };
}

/** Why a sign-in does not meet a requirement, or undefined when it does. */
export function stepUpProblem(
  requirement: StepUpRequirement,
  signIn: SignIn | undefined,
  now: Date,
): string | undefined {
  const methods = (list: string[]) => list.join(' or ');
  if (!signIn)
    return `this request needs a fresh sign-in (${methods(requirement.amr)}) at Countersign's web inbox`;
  for (const list of [requirement.amr, ...(requirement.allOf ?? [])]) {
    if (!list.some((m) => signIn.amr.includes(m)))
      return `this request needs a sign-in with ${methods(list)}; yours used ${signIn.amr.join(', ') || 'no stated method'}`;
  }
  const nowSeconds = now.getTime() / 1000;
  const authTime = signIn.authTime;
  if (authTime === undefined || authTime > nowSeconds + AUTH_TIME_SKEW_SECONDS)
    return 'your sign-in does not say when you authenticated; sign in again';
  if (nowSeconds - authTime > requirement.maxAgeSeconds)
    return `this request needs a sign-in within the last ${Math.round(requirement.maxAgeSeconds / 60)} minutes; sign in again`;
  return undefined;
}

/** Path of a request's page in the web inbox (a constant the inbox serves). */
export const requestPagePath = (requestId: string) => `/requests/${encodeURIComponent(requestId)}`;

/** The URL of a request's page, or undefined when no web inbox is configured. */
export function requestPageUrl(webInboxUrl: string | undefined, requestId: string): string | undefined {
  return webInboxUrl ? `${webInboxUrl.replace(/\/+$/, '')}${requestPagePath(requestId)}` : undefined;
}

/** The web inbox's base URL from {@link WEB_INBOX_URL_ENV}, when configured. */
export function webInboxUrlFromEnv(
  env: Record<string, string | undefined> = process.env,
): string | undefined {
  const value = env[WEB_INBOX_URL_ENV]?.trim();
  return value ? value : undefined;
}
