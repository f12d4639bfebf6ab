/**
 * The one typed, validated configuration of a Countersign deployment.
 *
 * It is built from the cdk.json context object `countersign`; every key may be
 * overridden by a flat context key `countersign:<key>` (so
 * `cdk synth -c countersign:auditRetentionDays=30` works). Only
 * `bin/countersign-app.ts` reads context; it hands the raw values to
 * {@link loadConfig} and passes the result down as props.
 */
import { z } from 'zod';
import { identityProviderSchema } from '../lambdas/identity/config.js';
import { DEFAULT_EMAIL_RULES, DOMAIN_NAME, type EmailRules } from '../lambdas/shared/email.js';
import {
  ENVIRONMENT_NAME,
  type EnvironmentMap,
  resourcePatternProblem,
  UNKNOWN_ENVIRONMENT,
} from '../lambdas/shared/environment.js';
import { BUILT_IN_DEFAULT_RATE, parseRate } from '../lambdas/shared/rate-limit.js';

/** Prefix of every key in error messages and of the flat override keys. */
export const CONFIG_CONTEXT_KEY = 'countersign';

/** Step Functions Standard executions live at most one year. */
const MAX_REVIEW_TIMEOUT_SECONDS = 365 * 24 * 60 * 60;

/** Parses `"true"` / `"false"` strings from `-c key=value` overrides. */
const booleanish = z.preprocess(
  (v) => (v === 'true' ? true : v === 'false' ? false : v),
  z.boolean({ error: 'must be true or false' }),
);

/** Parses integer strings from `-c key=value` overrides. */
const integerish = (min: number, max: number, what: string) =>
  z.preprocess(
    (v) => (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v),
    z
      .number({ error: `must be ${what}` })
      .int(`must be ${what}`)
      .min(min, `must be ${what}`)
      .max(max, `must be ${what}`),
  );

/** `rate(1 hour)`, `rate(15 minutes)`, or a `cron(...)` expression. */
function isScheduleExpression(value: string): boolean {
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(value);
  if (rate) {
    const n = Number(rate[1]);
    const plural = rate[2]!.endsWith('s');
    return n >= 1 && (n === 1 ? !plural : plural);
  }
  return /^cron\([^()]+\)$/.test(value);
}

const environmentName = z
  .string({ error: 'must be an environment name' })
  .transform((v) => v.toLowerCase())
  .refine((v) => ENVIRONMENT_NAME.test(v), 'must be 1-32 of [a-z0-9-], starting alphanumeric')
  .refine(
    (v) => v !== UNKNOWN_ENVIRONMENT,
    `"${UNKNOWN_ENVIRONMENT}" is reserved for intents nothing places`,
  );

const environmentSpec = z
  .object({
    accounts: z.array(z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account id')).default([]),
    resources: z
      .array(
        z.string({ error: 'must be a resource pattern' }).superRefine((pattern, ctx) => {
          const problem = resourcePatternProblem(pattern);
          if (problem) ctx.addIssue({ code: 'custom', message: `"${pattern}" ${problem}` });
        }),
      )
      .default([]),
    aliases: z.array(environmentName).default([]),
  })
  .strict();

/** Objects given as JSON strings by `-c countersign:<key>=<json>` overrides. */
const jsonObject = <Out>(schema: z.ZodType<Out>): z.ZodType<Out> =>
  z.preprocess((v) => {
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v) as unknown;
    } catch {
      return v;
    }
  }, schema);

/** Every name and alias resolves to one environment; every account belongs to one. */
const environmentsSchema = z
  .record(z.string(), environmentSpec)
  .default({})
  .superRefine((map, ctx) => {
    const names = new Map<string, string>();
    const accounts = new Map<string, string>();
    for (const [name, spec] of Object.entries(map)) {
      if (!ENVIRONMENT_NAME.test(name)) {
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message:
            'must be a canonical name of 1-32 [a-z0-9-], starting alphanumeric (put other spellings in aliases)',
        });
      } else if (name === UNKNOWN_ENVIRONMENT) {
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: `"${UNKNOWN_ENVIRONMENT}" is reserved for intents nothing places`,
        });
      }
      for (const alias of [name, ...spec.aliases]) {
        const other = names.get(alias);
        if (other !== undefined && other !== name) {
          ctx.addIssue({
            code: 'custom',
            path: [name, 'aliases'],
            message: `"${alias}" already names environment ${other}`,
          });
        }
        names.set(alias, name);
      }
      spec.accounts.forEach((account, i) => {
        const other = accounts.get(account);
        if (other !== undefined && other !== name) {
          ctx.addIssue({
            code: 'custom',
            path: [name, 'accounts', i],
            message: `account ${account} is already in environment ${other}`,
          });
        }
        accounts.set(account, name);
      });
    }
  });

const emailIdentitySchema = z
  .object({
    subaddressDomains: z
      .array(
        z.string().refine((d) => d === '*' || DOMAIN_NAME.test(d), 'must be "*" or a lower-case domain name'),
      )
      .default([...DEFAULT_EMAIL_RULES.subaddressDomains]),
    punycodeDomains: z
      .array(
        z
          .string()
          .refine(
            (d) => DOMAIN_NAME.test(d) && d.split('.').some((l) => l.startsWith('xn--')),
            'must be a lower-case punycode (xn--) domain name',
          ),
      )
      .default([]),
  })
  .strict()
  .default({ subaddressDomains: [...DEFAULT_EMAIL_RULES.subaddressDomains], punycodeDomains: [] });

const traceExportSchema = z
  .object({
    endpoint: z
      .url({
        protocol: /^https?$/,
        error: 'must be an http(s) OTLP traces URL like https://collector:4318/v1/traces',
      })
      .max(2048),
    headersSecret: booleanish.default(false),
    timeoutMs: integerish(100, 30_000, 'an integer number of milliseconds from 100 to 30000').default(2000),
  })
  .strict();

/** An Entra (Azure AD) GUID: an app, tenant or object id. */
const entraId = (what: string) =>
  z
    .string({ error: `must be the ${what} (a GUID)` })
    .regex(
      /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/,
      `must be the ${what} (a GUID)`,
    );

/** The Teams channel of a deployment (docs/teams.md). */
const teamsSchema = z
  .object({
    /** The bot's Entra app (client) id: the audience of every inbound token. */
    appId: entraId('bot app id'),
    /** The Entra tenant the bot serves: activities from any other tenant are refused. */
    tenantId: entraId('Entra tenant id'),
    /** The Teams channel review cards are posted to (`19:…@thread.tacv2`). */
    channelId: z
      .string({ error: 'must be a Teams channel id like 19:abc…@thread.tacv2' })
      .regex(
        /^19:[A-Za-z0-9_.-]+@thread\.(tacv2|skype)$/,
        'must be a Teams channel id like 19:abc…@thread.tacv2',
      ),
    /** The Bot Connector endpoint cards are posted through. */
    serviceUrl: z
      .url({ protocol: /^https$/, error: 'must be an https URL' })
      .default('https://smba.trafficmanager.net/teams/'),
    /**
     * ARN of an existing Secrets Manager secret `{"appPassword": "..."}`; when
     * absent the stack creates one for the operator to fill in.
     */
    secretArn: z
      .string()
      .regex(
        /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/,
        'must be a Secrets Manager secret ARN',
      )
      .optional(),
  })
  .strict();

/** The schema of the `countersign` context object. */
export const configSchema = z
  .object({
    /**
     * CloudFormation stack name (and construct id) of this copy. Two copies in one
     * account and region (staging next to prod) need different stack names and
     * different `eventBusName`s.
     */
    stackName: z
      .string({ error: 'must be a CloudFormation stack name' })
      .regex(
        /^[A-Za-z][A-Za-z0-9-]{0,127}$/,
        'must be a CloudFormation stack name: a letter, then up to 127 letters, digits or hyphens',
      )
      .default('Countersign'),
    /** Name of the custom EventBridge bus agents publish intents on. */
    eventBusName: z
      .string({ error: 'must be an EventBridge bus name' })
      .regex(/^[A-Za-z0-9._-]{1,256}$/, 'must be an EventBridge bus name of [A-Za-z0-9._-]')
      .refine((v) => v !== 'default', 'must not be "default": Countersign needs its own bus')
      .default('countersign'),
    /** Slack channel id the review cards are posted to. */
    slackChannelId: z
      .string({ error: 'must be a Slack channel id like C0123ABCD' })
      .regex(/^[CG][A-Z0-9]{6,}$/, 'must be a Slack channel id like C0123ABCD'),
    /** Slack user-group handle (without `@`) of the default approvers. */
    approverGroupHandle: z
      .string({ error: 'must be a Slack user-group handle like security-approvers' })
      .regex(
        /^[a-z0-9][a-z0-9._-]{0,79}$/,
        'must be a Slack user-group handle like security-approvers (no @)',
      ),
    /** Review timeout when policy sets none, in seconds. */
    defaultReviewTimeoutSeconds: integerish(
      60,
      MAX_REVIEW_TIMEOUT_SECONDS,
      `an integer number of seconds from 60 to ${MAX_REVIEW_TIMEOUT_SECONDS}`,
    ).default(3600),
    /**
     * Request quota of every agent and action class that no `@rate` policy
     * matches (`<N>/<second|minute|hour|day>` or `<N>/<ISO 8601 duration>`).
     */
    defaultRateLimit: z
      .string({ error: 'must be a rate like 30/minute' })
      .superRefine((value, ctx) => {
        const parsed = parseRate(value);
        if (!parsed.ok)
          ctx.addIssue({ code: 'custom', message: `must be a rate like 30/minute: ${parsed.error}` });
      })
      .default(BUILT_IN_DEFAULT_RATE),
    /** Object Lock COMPLIANCE retention of every audit object, in days. */
    auditRetentionDays: integerish(1, 36_500, 'an integer number of days from 1 to 36500').default(365),
    /** When true, audit writers also place an Object Lock legal hold on every audit object. */
    auditLegalHold: booleanish.default(false),
    /** EventBridge Scheduler expression of the signed audit digest. */
    digestSchedule: z
      .string({ error: 'must be a schedule expression like rate(1 hour)' })
      .refine(isScheduleExpression, 'must be a schedule expression like rate(1 hour) or cron(0 * * * ? *)')
      .default('rate(1 hour)'),
    /** An approval this many seconds or fewer after the card was posted counts as a rubber stamp (metric only). */
    rubberStampSeconds: integerish(0, 3600, 'an integer number of seconds from 0 to 3600').default(10),
    /** Review cards posted a second per Slack channel, sustained (Slack allows about one). */
    cardRatePerSecond: z
      .preprocess(
        (v) => (typeof v === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v),
        z
          .number({ error: 'must be a number of cards a second from 0.1 to 10' })
          .min(0.1, 'must be a number of cards a second from 0.1 to 10')
          .max(10, 'must be a number of cards a second from 0.1 to 10'),
      )
      .default(1),
    /** Review cards that may go out back to back in one channel (Slack tolerates short bursts). */
    cardBurst: integerish(1, 20, 'an integer number of cards from 1 to 20').default(3),
    /** More cards waiting in a channel than this: one "queue" message instead of a wall of cards. */
    cardBacklogThreshold: integerish(1, 1000, 'an integer number of cards from 1 to 1000').default(20),
    /** Email address subscribed to the operational alarms' topic; none when undefined. */
    alarmEmail: z.email({ error: 'must be an email address' }).optional(),
    /**
     * Reserved concurrency of the public Slack interaction function (a ceiling on
     * what a flood of requests can run, and a floor the rest of the account cannot
     * take); unreserved when undefined. Off by default: a new account's
     * concurrency quota (often 10) leaves nothing to reserve.
     */
    interactionReservedConcurrency: integerish(
      1,
      10_000,
      'an integer number of concurrent executions from 1 to 10000',
    ).optional(),
    /** Directory of the Cedar schema and policies, relative to the project root or absolute. */
    policyDir: z
      .string({ error: 'must be a directory path' })
      .min(1, 'must be a directory path')
      .default('policies'),
    /**
     * Environments by canonical name: the accounts and resource patterns that
     * place an intent in each, and the aliases agents may use. Policy keys on
     * the derived environment, never on the declared one.
     */
    environments: jsonObject<EnvironmentMap>(environmentsSchema),
    /** How emails compare as identities (sub-addressing, punycode domains). */
    emailIdentity: jsonObject<EmailRules>(emailIdentitySchema),
    /**
     * The company's OpenID Connect IdP (docs/identity.md): issuer, client id,
     * the client secret's Secrets Manager ARN or name, the approval API's
     * audience, where groups come from, clock tolerance. Without it nobody
     * signs in and a Slack user is an identity by their Slack profile alone.
     */
    identityProvider: jsonObject(identityProviderSchema).optional(),
    /**
     * Base URL of the web inbox: a step-up request's card links its Approve to
     * `<webInboxUrl>/requests/<id>`.
     */
    webInboxUrl: z
      .url({ protocol: /^https$/, error: 'must be an https URL' })
      .refine((v) => !/[?#]/.test(v), 'must be an https URL without query or fragment')
      .transform((v) => v.replace(/\/+$/, ''))
      .optional(),
    /**
     * OpenTelemetry export of each request's trace (docs/observability.md); off when undefined.
     * `endpoint`: OTLP/HTTP traces URL (https, or http to a collector in the VPC); `headersSecret`:
     * create a secret for the backend's API key headers; `timeoutMs`: deadline of one export.
     */
    traceExport: jsonObject(traceExportSchema).optional(),
    /** The Microsoft Teams channel; none when undefined. */
    teams: jsonObject(teamsSchema).optional(),
    /** Where a review is shown when its policies name no `@channels`. */
    reviewChannels: jsonObject(
      z.array(z.enum(['slack', 'teams'], { error: 'must be slack or teams' })).min(1, 'must name a channel'),
    ).default(['slack']),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.reviewChannels.includes('teams') && !config.teams)
      ctx.addIssue({
        code: 'custom',
        path: ['reviewChannels'],
        message: 'names teams, but teams is not configured',
      });
  });

/** A validated Countersign configuration: what {@link configSchema} outputs. */
export type CountersignConfig = Readonly<z.output<typeof configSchema>>;

/** Keys of the configuration, for flat `countersign:<key>` overrides. */
export const CONFIG_KEYS = Object.keys(configSchema.shape) as (keyof CountersignConfig)[];

/**
 * Builds the configuration from the `countersign` context object and the flat
 * `countersign:<key>` overrides (flat keys win).
 *
 * @param context value of the `countersign` context key (an object, or a JSON string from `-c`)
 * @param overrides values of the flat `countersign:<key>` context keys that are set
 * @throws Error naming the offending key, e.g. `countersign.slackChannelId: must be a Slack channel id like C0123ABCD`
 */
export function loadConfig(context: unknown, overrides: Record<string, unknown> = {}): CountersignConfig {
  let base: unknown = context ?? {};
  if (typeof base === 'string') {
    try {
      base = JSON.parse(base);
    } catch {
      throw new Error(`${CONFIG_CONTEXT_KEY}: must be an object (got a string that is not JSON)`);
    }
  }
  if (typeof base !== 'object' || base === null || Array.isArray(base)) {
    throw new Error(`${CONFIG_CONTEXT_KEY}: must be an object in cdk.json "context"`);
  }
  const merged: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) merged[key] = value;
  }
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const messages = parsed.error.issues.map((issue) => {
      const key = issue.path.map(String).join('.');
      if (issue.code === 'unrecognized_keys') {
        return key
          ? `${CONFIG_CONTEXT_KEY}.${key}: unknown key(s) ${issue.keys.join(', ')}`
          : `${CONFIG_CONTEXT_KEY}: unknown key(s) ${issue.keys.join(', ')} (known: ${CONFIG_KEYS.join(', ')})`;
      }
      const missing = issue.code === 'invalid_type' && merged[key] === undefined;
      return `${CONFIG_CONTEXT_KEY}.${key}: ${missing ? `is required (${issue.message})` : issue.message}`;
    });
    throw new Error(messages.join('\n'));
  }
  return parsed.data;
}
