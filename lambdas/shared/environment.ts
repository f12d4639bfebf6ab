/**
 * The environment policy keys on is derived, never declared. An agent chooses
 * its intent's `environment` string, so Countersign places the intent itself:
 *
 * 1. the resource: the first configured environment whose `resources`
 *    patterns match it, and the environment whose `accounts` hold the ARN's
 *    account id (both must agree, or the intent is refused as ambiguous);
 * 2. otherwise the agent's registration, when it names exactly one environment;
 * 3. otherwise {@link UNKNOWN_ENVIRONMENT}: no allow policy matches it, the
 *    production policies apply to it as to `prod`, and the card shows it as
 *    unverified.
 *
 * Names are canonical: each environment has one name, and its aliases
 * (`production`, `prd`, …) map to it, case-insensitively.
 */

/** One environment of the deployment (`countersign.environments.<name>`). */
export interface EnvironmentSpec {
  /** AWS account ids (12 digits) whose resources are in this environment. */
  readonly accounts: readonly string[];
  /** Resource patterns (`*` matches any run of characters) of this environment. */
  readonly resources: readonly string[];
  /** Other names agents may use for it (`production`, `prd`); compared lower-case. */
  readonly aliases: readonly string[];
}

/** The deployment's environments by canonical name. */
export type EnvironmentMap = Readonly<Record<string, EnvironmentSpec>>;

/** Environment variable carrying the {@link EnvironmentMap} as JSON. */
export const ENVIRONMENTS_ENV = 'COUNTERSIGN_ENVIRONMENTS';

/** What policy sees when nothing places the intent. Reserved: no configured environment may use it. */
export const UNKNOWN_ENVIRONMENT = 'unknown';

/** Shape of a canonical environment name or alias. */
export const ENVIRONMENT_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;

/** Where a derived environment came from. */
export type EnvironmentSource = 'resource' | 'account' | 'registration' | 'none';

/** The result of {@link deriveEnvironment}. */
export type Derivation =
  | { ok: true; environment: string; source: EnvironmentSource; detail: string }
  | { ok: false; reason: string };

/** The canonical name of `name` (alias or name, any case); an unconfigured name comes back lower-cased. */
export function canonicalEnvironment(name: string, map: EnvironmentMap): string {
  const n = name.trim().toLowerCase();
  if (Object.hasOwn(map, n)) return n;
  for (const [canonical, spec] of Object.entries(map)) {
    if (spec.aliases.some((a) => a.toLowerCase() === n)) return canonical;
  }
  return n;
}

/** True when `value` matches `pattern`, where `*` matches any run of characters (also none) and nothing else is special. */
export function matchesPattern(pattern: string, value: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === value;
  const first = parts[0]!;
  const last = parts.at(-1)!;
  if (!value.startsWith(first) || value.length < first.length + last.length || !value.endsWith(last))
    return false;
  let at = first.length;
  const end = value.length - last.length;
  for (const part of parts.slice(1, -1)) {
    const found = value.indexOf(part, at);
    if (found < 0 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}

/** The 12-digit account id of an ARN, or undefined. */
export function arnAccount(resource: string): string | undefined {
  const parts = resource.split(':');
  return parts[0] === 'arn' && parts.length >= 6 && /^\d{12}$/.test(parts[4]!) ? parts[4] : undefined;
}

/**
 * Why a resource pattern is unfit for placing resources, or undefined.
 * Patterns are printable ASCII without spaces, start with a literal (a leading
 * `*` matches whatever an agent prefixes), and, for ARNs, have all six fields
 * with a 12-digit, empty or `*` account.
 */
export function resourcePatternProblem(pattern: unknown): string | undefined {
  if (typeof pattern !== 'string' || pattern.length === 0) return 'must be a non-empty string';
  if (pattern.length > 2048) return 'must be at most 2048 characters';
  if (!/^[\x21-\x7e]+$/.test(pattern)) return 'must be printable ASCII without spaces';
  if (pattern.startsWith('*'))
    return 'must start with a literal, not "*" (it would match any resource an agent names)';
  if (pattern.replaceAll('*', '').length < 3) return 'must have at least 3 literal characters';
  if (pattern.startsWith('arn:')) {
    const fields = pattern.split(':');
    if (fields.length < 6)
      return 'is an ARN pattern without all six fields (arn:partition:service:region:account:resource)';
    if (!/^(\d{12}|\*|)$/.test(fields[4]!))
      return `has account field "${fields[4]}"; use a 12-digit id, "*" or nothing`;
  }
  return undefined;
}

/**
 * Places a resource in an environment.
 *
 * @param resource the intent's resource (agent text: matched, never trusted to be well formed)
 * @param map the deployment's environments
 * @param registered the canonical environments the agent is registered for, if any
 */
export function deriveEnvironment(
  resource: string,
  map: EnvironmentMap,
  registered?: readonly string[],
): Derivation {
  const byPattern = Object.entries(map)
    .filter(([, spec]) => spec.resources.some((p) => matchesPattern(p, resource)))
    .map(([name]) => name);
  const account = arnAccount(resource);
  const byAccount = account
    ? Object.entries(map)
        .filter(([, spec]) => spec.accounts.includes(account))
        .map(([name]) => name)
    : [];
  const found = [...new Set([...byPattern, ...byAccount])];
  if (found.length > 1) {
    return {
      ok: false,
      reason: `resource "${resource.slice(0, 256)}" is placed in several environments (${found.sort().join(', ')}); Countersign cannot tell which one policy applies`,
    };
  }
  const [environment] = found;
  if (environment) {
    if (registered && registered.length > 0 && !registered.includes(environment)) {
      return {
        ok: false,
        reason: `the agent is registered for ${registered.join(', ')} only, and resource "${resource.slice(0, 256)}" is in ${environment}`,
      };
    }
    return byPattern.length > 0
      ? {
          ok: true,
          environment,
          source: 'resource',
          detail: `resource matches environments.${environment}.resources`,
        }
      : {
          ok: true,
          environment,
          source: 'account',
          detail: `account ${account} is in environments.${environment}.accounts`,
        };
  }
  if (registered?.length === 1) {
    return {
      ok: true,
      environment: registered[0]!,
      source: 'registration',
      detail: 'the agent is registered for it alone',
    };
  }
  return {
    ok: true,
    environment: UNKNOWN_ENVIRONMENT,
    source: 'none',
    detail: 'no configured account, resource pattern or registration places the resource',
  };
}

/** Parses an {@link EnvironmentMap} from JSON; throws naming what is wrong. */
export function parseEnvironmentMap(json: string): EnvironmentMap {
  const value = JSON.parse(json) as Record<string, Partial<EnvironmentSpec>>;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${ENVIRONMENTS_ENV} must be a JSON object`);
  }
  const map: Record<string, EnvironmentSpec> = {};
  for (const [name, spec] of Object.entries(value)) {
    const strings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string');
    if (
      !ENVIRONMENT_NAME.test(name) ||
      name === UNKNOWN_ENVIRONMENT ||
      !strings(spec.accounts) ||
      !strings(spec.resources) ||
      !strings(spec.aliases)
    ) {
      throw new Error(`${ENVIRONMENTS_ENV}.${name} is not a valid environment`);
    }
    map[name] = { accounts: spec.accounts!, resources: spec.resources!, aliases: spec.aliases! };
  }
  return map;
}
