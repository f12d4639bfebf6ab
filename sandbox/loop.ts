/**
 * The whole Countersign loop, offline: dynalite, s3rver, a fake Slack, a fake
 * of the AWS APIs no local server provides (task callbacks, Secrets Manager),
 * the synthesized ASL run by aws-local-stepfunctions with the real handler
 * modules, and a bus that routes PutEvents entries by the synthesized rules.
 *
 * The handlers learn where they run only from endpoint configuration (the
 * SDK's `AWS_ENDPOINT_URL_<SERVICE>` variables and `COUNTERSIGN_SLACK_API_URL`),
 * which this module sets before it loads them. Handler modules read their
 * environment once, so one process runs one loop.
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { AGENT_SOURCE_PREFIX, DECISION_DETAIL_TYPE, DECISION_SOURCE } from '../lambdas/shared/intent.js';
import { usePosterKick } from '../lambdas/shared/poster-kick.js';
import type { ReminderPayload, ReminderScheduler } from '../lambdas/shared/reminders.js';
import { signingSecretProblem } from '../lambdas/shared/slack-secret.js';
import { EVENTBRIDGE_MAX_DEPTH, parseStrictJson } from '../lambdas/shared/strict-json.js';
import { STATE } from '../lambdas/shared/workflow.js';
import type { CountersignConfig } from '../lib/config.js';
import { AgentShare } from './agent-share.js';
import { matchesPattern } from './event-pattern.js';
import { type RunningFakeAws, startFakeAws } from './fake-aws.js';
import {
  FAKE_SLACK_TOKEN,
  type FakeSlackOptions,
  loadDirectory,
  type RunningFakeSlack,
  type SlackDirectory,
  startFakeSlack,
} from './fake-slack.js';
import { type SandboxEnforcement, startSandboxEnforcement } from './fake-sts-sandbox.js';
import { SANDBOX_WEB_INBOX_URL } from './idp-constants.js';
import { type LocalAws, startLocalAws } from './local-aws.js';
import { LocalDigests, loadOrCreateDigestKey, scheduleIntervalMs } from './local-digests.js';
import type { StreamConsumer } from './local-stream.js';
import { type LocalTeams, messagingEvent, startLocalTeams, type TeamsHandler } from './local-teams.js';
import { type LocalExecution, LocalWorkflow } from './local-workflow.js';
import { type RunningOtlpReceiver, startOtlpReceiver } from './otlp-receiver.js';
import { type SynthesizedLoop, synthesizeLoop } from './synth.js';
import type { UsageMeter } from './usage-meter.js';

/** The signing secret the sandbox uses when `SLACK_SIGNING_SECRET` is not set. Development only. */
export const DEV_SIGNING_SECRET = 'countersign-sandbox-signing-secret';
const SLACK_SECRET_ID = 'countersign/slack';

/** A PutEvents request entry, as the AWS API takes it. */
export interface PutEventsEntry {
  Source?: string;
  DetailType?: string;
  Detail?: string;
  EventBusName?: string;
  Resources?: string[];
  Time?: string | number | Date;
}

/** A PutEvents result entry, as the AWS API returns it. */
export type PutEventsResultEntry = { EventId: string } | { ErrorCode: string; ErrorMessage: string };

/** An event on the local bus. */
export interface BusEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
}

/** Options of {@link CountersignLoop.start}. */
export interface LoopOptions {
  /** The Slack directory behind the fake Slack. @default sandbox/directory.json */
  directory?: SlackDirectory;
  /** Slack signing secret for interactions. @default DEV_SIGNING_SECRET */
  signingSecret?: string;
  /** Config overrides on top of cdk.json (e.g. a short review timeout). */
  config?: Partial<CountersignConfig>;
  /** Persist DynamoDB and S3 data here; in memory / a temp dir when absent. */
  dataDir?: string;
  /**
   * A real Slack workspace instead of the fake: bot token and API base URL.
   * @default - the fake Slack
   */
  slack?: { botToken: string; apiUrl?: string; channel: string };
  /**
   * The fake Slack's rate limits: `false` switches them off (only where Slack
   * is not the subject), a table replaces the limits of the methods it names.
   * @default SLACK_RATE_LIMITS (Slack's documented limits)
   */
  slackRateLimits?: FakeSlackOptions['rateLimits'];
  /**
   * Review timeout, in seconds, when no policy sets one. Unlike the deployed
   * config (at least 60 s) any value is accepted, so expiry can be watched.
   * @default config.defaultReviewTimeoutSeconds
   */
  defaultReviewTimeoutSeconds?: number;
  /** Pause between retries of failed tasks, in ms (real Step Functions waits seconds). @default 10 */
  retryPauseMs?: number;
  /**
   * Export each request's trace to a local OTLP/HTTP receiver
   * (`loop.traces`), as a deployed stack does to its configured endpoint.
   * @default true
   */
  traceExport?: boolean;
  /** Run the fake Teams side (Bot Connector, Bot Framework keys, Graph) and the Teams handler. @default true */
  teams?: boolean;
  /** Where reviews are shown when their policies name no `@channels`. @default config.reviewChannels */
  reviewChannels?: string[];
  /**
   * Counts what the run would be billed for (Lambda invocations by function,
   * state transitions, bus entries, schedules); SDK calls are counted by the
   * meter itself once installed. @default - nothing counted
   */
  meter?: UsageMeter;
  /** How often the card poster's sweep runs, in ms (a schedule every minute when deployed). @default 60000 */
  posterSweepMs?: number;
  /**
   * Workflow task invocations of one agent that run at once; more wait
   * behind that agent's own ({@link AgentShare}: AWS runs each invocation
   * apart, this process cannot). `0` lifts the limit.
   * @default AGENT_SHARE_LIMIT
   */
  agentShare?: number;
}

/** Task invocations of one agent the sandbox runs at once (see {@link AgentShare}). */
export const AGENT_SHARE_LIMIT = 4;

/**
 * The sandbox's card poster runs: the real poster handler module, run
 * in-process when Review kicks it, when it asks to run again (a timer stands
 * in for its asynchronous self-invoke) and on a sweep timer (the schedule).
 */
export class LocalPoster {
  /** Every run, in start order, with its result or error. */
  readonly runs: { reason: string; result?: unknown; error?: string }[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private sweepTimer?: NodeJS.Timeout;

  constructor(
    private readonly invoke: (event: { kick: string }) => Promise<unknown>,
    private readonly track: (run: Promise<unknown>) => void,
  ) {}

  /** Runs the poster now (Review's kick, or a test's). */
  kick(reason = 'review'): Promise<unknown> {
    const entry: (typeof this.runs)[number] = { reason };
    this.runs.push(entry);
    const run = this.invoke({ kick: reason }).then(
      (result) => {
        entry.result = result;
      },
      (error: Error) => {
        entry.error = error.message;
      },
    );
    this.track(run);
    return run;
  }

  /** Runs the poster again shortly, as its asynchronous self-invoke would. */
  rerun(): Promise<void> {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.kick('backlog');
    }, 10);
    this.timers.add(timer);
    return Promise.resolve();
  }

  /** Starts the sweep timer. */
  startSweep(intervalMs: number): void {
    this.sweepTimer = setInterval(() => void this.kick('sweep'), intervalMs);
    this.sweepTimer.unref();
  }

  /** Stops the sweep and any pending re-run. */
  close(): void {
    clearInterval(this.sweepTimer);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}

/** One wake-up the local scheduler holds. */
export interface LocalSchedule {
  at: Date;
  payload: ReminderPayload;
  /** Set once the reminder handler ran for it (with its answer or error). */
  fired?: { at: Date; outcome?: unknown; error?: string };
}

/**
 * The sandbox's stand-in for EventBridge Scheduler (no emulator exists): each
 * one-off schedule is a timer that invokes the real reminder handler module at
 * its time, then is done (as `ActionAfterCompletion: DELETE`). Tests fire
 * schedules early with {@link LocalScheduler.fire} instead of waiting minutes.
 */
export class LocalScheduler implements ReminderScheduler {
  readonly schedules: LocalSchedule[] = [];
  private readonly timers = new Map<LocalSchedule, NodeJS.Timeout>();

  constructor(
    private readonly invoke: (payload: ReminderPayload) => Promise<unknown>,
    private readonly meter?: UsageMeter,
  ) {}

  async schedule(at: Date, payload: ReminderPayload): Promise<void> {
    const name = `${payload.requestId}/${payload.kind}/${payload.beforeSeconds}`;
    if (
      this.schedules.some(
        (s) => `${s.payload.requestId}/${s.payload.kind}/${s.payload.beforeSeconds}` === name,
      )
    )
      return; // a retried Review: the schedule already exists
    const entry: LocalSchedule = { at, payload };
    this.schedules.push(entry);
    this.meter?.schedule('created');
    // Node timers hold at most ~24.8 days; longer reviews' wake-ups wait for fire().
    const delay = Math.max(0, at.getTime() - Date.now());
    if (delay < 2 ** 31 - 1) {
      const timer = setTimeout(() => void this.run(entry), delay);
      timer.unref();
      this.timers.set(entry, timer);
    }
  }

  /** The schedules of one request, in time order. */
  for(requestId: string): LocalSchedule[] {
    return this.schedules
      .filter((s) => s.payload.requestId === requestId)
      .sort((a, b) => a.at.getTime() - b.at.getTime());
  }

  /** Runs a schedule now, as if its time had come; returns the handler's answer. */
  async fire(entry: LocalSchedule): Promise<unknown> {
    return this.run(entry);
  }

  private async run(entry: LocalSchedule): Promise<unknown> {
    clearTimeout(this.timers.get(entry));
    this.timers.delete(entry);
    this.meter?.schedule('fired');
    try {
      const outcome = await this.invoke(entry.payload);
      entry.fired = { at: new Date(), outcome };
      return outcome;
    } catch (error) {
      entry.fired = { at: new Date(), error: (error as Error).message };
      throw error;
    }
  }

  /** Cancels every pending timer. */
  close(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
let started = false;

/** A running offline loop. */
export class CountersignLoop {
  /** Decision events published back on the bus, in order. */
  readonly decisions: BusEvent[] = [];
  /** Every event accepted on the bus, in order. */
  readonly busEvents: BusEvent[] = [];
  /** Executions started, in order, with the event that started each. */
  readonly executions: { event: BusEvent; execution: LocalExecution }[] = [];
  private readonly running = new Set<Promise<unknown>>();
  /** The fake STS and IAM, the executors and the credentials exchange (sandbox/fake-sts-sandbox.ts). */
  enforcement!: SandboxEnforcement;
  private readonly listeners = new Set<(event: BusEvent) => void>();
  /** The usage meter the loop reports to, when started with one. */
  meter: UsageMeter | undefined;
  /** Each agent's share of the process's task invocations; undefined when unlimited. */
  share: AgentShare | undefined;

  private constructor(
    readonly aws: LocalAws,
    readonly slack: RunningFakeSlack | undefined,
    readonly fakeAws: RunningFakeAws,
    readonly synthesized: SynthesizedLoop,
    readonly signingSecret: string,
    /** The reminder scheduler (timers standing in for EventBridge Scheduler). */
    readonly scheduler: LocalScheduler,
    /** The digest signer: its key and the hourly digest runs (standing in for the digest Lambda). */
    readonly digests: LocalDigests,
    /** The OTLP/HTTP receiver the handlers export traces to; undefined when trace export is off. */
    readonly traces: RunningOtlpReceiver | undefined,
    /** The card poster's runs (kicks, re-runs and the sweep timer). */
    readonly poster: LocalPoster,
    private readonly workflow: LocalWorkflow,
    private readonly interaction: (
      event: APIGatewayProxyEventV2,
    ) => Promise<APIGatewayProxyStructuredResultV2>,
    /** The fake Teams side and the Teams handler, unless started with `teams: false`. */
    readonly teams?: LocalTeams & { handler: TeamsHandler },
  ) {}

  /** The config the loop runs with (cdk.json plus overrides). */
  get config(): CountersignConfig {
    return this.synthesized.config;
  }

  /** Starts every local server, loads the handlers and returns the loop. */
  static async start(options: LoopOptions = {}): Promise<CountersignLoop> {
    if (started)
      throw new Error(
        'a Countersign loop already runs in this process (handlers read their environment once)',
      );
    const signingSecret = options.signingSecret ?? DEV_SIGNING_SECRET;
    // The handlers would refuse it at their first request; refuse it before anything starts.
    const secretProblem = signingSecretProblem(signingSecret);
    if (secretProblem) throw new Error(`Slack signing secret refused: ${secretProblem}`);
    started = true;
    const directory = options.directory ?? loadDirectory();
    const synthesized = synthesizeLoop(options.config, directory.agents ?? []);
    const { config } = synthesized;
    const aws = await startLocalAws({
      dataDir: options.dataDir,
      table: 'countersign',
      bucket: 'countersign-audit',
    });
    const slack = options.slack
      ? undefined
      : await startFakeSlack({
          directory,
          ...(options.slackRateLimits !== undefined ? { rateLimits: options.slackRateLimits } : {}),
        });
    // The fake workspace's approval channel stands in for the configured one.
    const channel = options.slack?.channel ?? directory.channels?.[0]?.id ?? config.slackChannelId;
    const fakeAws = await startFakeAws();
    let loop: CountersignLoop | undefined;
    const enforcement = await startSandboxEnforcement({
      ...synthesized.enforcement,
      agentIds: (directory.agents ?? []).map((a) => a.id),
      store: { ddb: aws.ddb, table: aws.table },
      // CloudTrail's delivery: the API call event on the account's default bus.
      putCloudTrail: (event) =>
        loop?.putEvents([
          {
            EventBusName: 'default',
            Source: `aws.${event.eventSource.replace(/\.amazonaws\.com$/, '')}`,
            DetailType: 'AWS API Call via CloudTrail',
            Detail: JSON.stringify(event),
          },
        ]),
    });
    const traces = options.traceExport === false ? undefined : await startOtlpReceiver();
    const secretArn = fakeAws.setSecret(
      SLACK_SECRET_ID,
      JSON.stringify({ botToken: options.slack?.botToken ?? FAKE_SLACK_TOKEN, signingSecret }),
    );

    const teams = options.teams === false ? undefined : await startLocalTeams(directory, fakeAws);
    Object.assign(process.env, {
      ...teams?.env,
      COUNTERSIGN_REVIEW_CHANNELS: (options.reviewChannels ?? config.reviewChannels).join(','),
      // Region, local credentials, endpoints, table and bucket.
      ...aws.env(),
      ...fakeAws.env(),
      ...enforcement.env(),
      COUNTERSIGN_AUDIT_RETENTION_DAYS: String(config.auditRetentionDays),
      COUNTERSIGN_SLACK_SECRET_ARN: secretArn,
      COUNTERSIGN_SLACK_CHANNEL: channel,
      // Review's kick is replaced by an in-process run (LocalPoster); the ARN is never called.
      COUNTERSIGN_POSTER_FUNCTION_ARN: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:countersign-poster`,
      COUNTERSIGN_CARD_RATE_PER_SECOND: String(config.cardRatePerSecond),
      COUNTERSIGN_CARD_BURST: String(config.cardBurst),
      COUNTERSIGN_CARD_BACKLOG_THRESHOLD: String(config.cardBacklogThreshold),
      COUNTERSIGN_APPROVER_GROUP: config.approverGroupHandle,
      COUNTERSIGN_DEFAULT_REVIEW_TIMEOUT_SECONDS: String(
        options.defaultReviewTimeoutSeconds ?? config.defaultReviewTimeoutSeconds,
      ),
      COUNTERSIGN_DEFAULT_RATE_LIMIT: config.defaultRateLimit,
      COUNTERSIGN_SLACK_API_URL: options.slack ? (options.slack.apiUrl ?? '') : slack!.url,
      // Where a step-up request's card sends its approvers (the local web inbox).
      COUNTERSIGN_WEB_INBOX_URL: config.webInboxUrl ?? SANDBOX_WEB_INBOX_URL,
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
      // Metrics go out as EMF lines on stdout; off unless the caller turned them on (the cost bench counts them).
      POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? 'true',
      COUNTERSIGN_OTLP_ENDPOINT: traces?.url ?? '',
      // The agents registered with addAgent, the environments and email rules, as synthesized.
      ...synthesized.registryEnvironment,
      // The same policy set the synth validated (config policyDir), not a bundle embedded at build time.
      COUNTERSIGN_POLICY_DIR: resolve(import.meta.dirname, '..', config.policyDir),
    });

    const [evaluate, review, record, interaction, reminder, posterModule] = await Promise.all([
      import('../lambdas/evaluate/handler.js'),
      import('../lambdas/review/handler.js'),
      import('../lambdas/record/handler.js'),
      import('../lambdas/interaction/handler.js'),
      import('../lambdas/reminder/handler.js'),
      import('../lambdas/poster/handler.js'),
    ]);
    const meter = options.meter;
    const metered = <H extends (...args: never[]) => Promise<unknown>>(name: string, handler: H): H =>
      meter ? meter.wrap(name, handler) : handler;
    const teamsHandler = teams
      ? metered('teams', (await import('../lambdas/teams/handler.js')).handler as TeamsHandler)
      : undefined;
    // The table's stream feeds what the stack subscribes to it (the archive handler), filters included.
    for (const subscription of synthesized.streams) {
      const module = (await import(subscription.handler)) as { handler: StreamConsumer };
      const consume = metered(functionNameOf(subscription.handler), module.handler);
      aws.stream.subscribe((event) => consume(event), subscription);
    }
    const remind = metered('reminder', reminder.handler as (p: ReminderPayload) => Promise<unknown>);
    const scheduler = new LocalScheduler((payload) => remind(payload), meter);
    review.useReminderScheduler(scheduler);
    const post = metered('poster', posterModule.handler as (e: { kick: string }) => Promise<unknown>);
    const poster = new LocalPoster(
      (event) => post(event),
      (run) => loop?.track(run),
    );
    // Review, Record and the interaction handler kick it (each names itself as the kick's reason).
    usePosterKick(async (reason) => {
      void poster.kick(reason);
    });
    posterModule.usePosterRerun(() => poster.rerun());
    poster.startSweep(options.posterSweepMs ?? 60_000);
    const digests = new LocalDigests(
      {
        ddb: aws.ddb,
        table: aws.table,
        s3: aws.s3,
        bucket: aws.bucket,
        retentionDays: config.auditRetentionDays,
        now: () => new Date(),
      },
      await loadOrCreateDigestKey(options.dataDir),
      scheduleIntervalMs(config.digestSchedule),
    );
    // The catch-up runs while the loop starts; later runs queue behind it.
    digests
      .start()
      .catch((error: Error) => console.error(`sandbox digest catch-up failed: ${error.message}`));
    const shareLimit = options.agentShare ?? AGENT_SHARE_LIMIT;
    const registered = new Set((directory.agents ?? []).map((a) => `${AGENT_SOURCE_PREFIX}${a.id}`));
    const share = shareLimit > 0 ? new AgentShare(shareLimit, registered) : undefined;
    const workflow = new LocalWorkflow({
      definition: synthesized.definition,
      handlers: {
        [STATE.evaluate]: metered('evaluate', evaluate.handler as (p: unknown) => Promise<unknown>),
        [STATE.review]: metered('review', review.handler as (p: unknown) => Promise<unknown>),
        [STATE.record]: metered('record', record.handler as (p: unknown) => Promise<unknown>),
      },
      ...(meter ? { onExecutionEvent: (type: string) => meter.executionEvent(type) } : {}),
      putEvents: async (entries) => {
        const results = loop!.putEvents(entries as PutEventsEntry[]);
        const failed = results.find((r) => 'ErrorCode' in r);
        if (failed && 'ErrorCode' in failed) throw new Error(`PutEvents failed: ${failed.ErrorCode}`);
      },
      tasks: fakeAws.tasks,
      retryPauseMs: options.retryPauseMs ?? 10,
      ...(share ? { share } : {}),
    });
    loop = new CountersignLoop(
      aws,
      slack,
      fakeAws,
      synthesized,
      signingSecret,
      scheduler,
      digests,
      traces,
      poster,
      workflow,
      metered(
        'interaction',
        interaction.handler as (e: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>,
      ),
      teams && teamsHandler ? { ...teams, handler: teamsHandler } : undefined,
    );
    loop.enforcement = enforcement;
    loop.meter = meter;
    loop.share = share;
    return loop;
  }

  /**
   * PutEvents on the local bus: validates each entry as EventBridge does,
   * reports per-entry failures the same way, and starts the workflow for every
   * entry a workflow rule matches.
   */
  putEvents(entries: PutEventsEntry[]): PutEventsResultEntry[] {
    return entries.map((entry) => {
      const problem = entryProblem(entry, this.config.eventBusName);
      if (problem) return problem;
      this.meter?.busEntry(entry.Source!, Buffer.byteLength(entry.Detail!));
      const bus = busIdOf(entry) === 'default' ? 'default' : this.config.eventBusName;
      const event: BusEvent = {
        version: '0',
        id: randomUUID(),
        'detail-type': entry.DetailType!,
        source: entry.Source!,
        account: ACCOUNT,
        time: eventTime(entry.Time),
        region: REGION,
        resources: entry.Resources ?? [],
        detail: (parseStrictJson(entry.Detail!) as { value: Record<string, unknown> }).value,
      };
      this.deliver(event, bus);
      return { EventId: event.id };
    });
  }

  private deliver(event: BusEvent, bus: string): void {
    this.busEvents.push(event);
    if (event.source === DECISION_SOURCE && event['detail-type'] === DECISION_DETAIL_TYPE)
      this.decisions.push(event);
    for (const listener of this.listeners) listener(event);
    for (const rule of this.synthesized.rules) {
      if (rule.eventBusName !== bus || !matchesPattern(rule.eventPattern, event)) continue;
      if (rule.targetsWorkflow) this.startWorkflow(event);
      for (const entry of rule.targetHandlers) this.invokeTarget(entry, event);
    }
  }

  /** Lambda invocations by rule targets (e.g. the cancel handler), in order, with their answers. */
  readonly targetInvocations: { entry: string; event: BusEvent; result?: unknown; error?: string }[] = [];

  /** Invokes a rule's Lambda target asynchronously, as EventBridge does (the real handler module). */
  private invokeTarget(entry: string, event: BusEvent): void {
    const record: (typeof this.targetInvocations)[number] = { entry, event };
    this.targetInvocations.push(record);
    const run = (async () => {
      const module = (await import(entry)) as { handler: (e: unknown) => Promise<unknown> };
      const handler = this.meter ? this.meter.wrap(functionNameOf(entry), module.handler) : module.handler;
      try {
        record.result = await handler(event);
      } catch (error) {
        record.error = (error as Error).message;
      }
    })();
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  /** Starts a workflow execution for an event directly, as the rule target would. */
  startWorkflow(event: Partial<BusEvent> | Record<string, unknown>): LocalExecution {
    const execution = this.workflow.start(event);
    this.executions.push({ event: event as BusEvent, execution });
    const settled = execution.result.catch(() => undefined);
    this.running.add(settled);
    void settled.finally(() => this.running.delete(settled));
    return execution;
  }

  /** Executions whose event carries this intent id, in start order. */
  executionsFor(intentId: string): LocalExecution[] {
    return this.executions
      .filter(({ event }) => (event.detail as { intentId?: unknown } | undefined)?.intentId === intentId)
      .map(({ execution }) => execution);
  }

  /** Calls `listener` for every event accepted on the bus; returns an unsubscribe function. */
  onEvent(listener: (event: BusEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Runs the interaction handler on a Function URL request, as Slack's POST would. */
  interact(request: {
    headers: Record<string, string>;
    body: string;
  }): Promise<APIGatewayProxyStructuredResultV2> {
    const event = {
      version: '2.0',
      routeKey: '$default',
      rawPath: '/',
      rawQueryString: '',
      headers: Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v])),
      requestContext: {
        http: {
          method: 'POST',
          path: '/',
          protocol: 'HTTP/1.1',
          sourceIp: '127.0.0.1',
          userAgent: 'Slackbot',
        },
      },
      body: request.body,
      isBase64Encoded: false,
    } as unknown as APIGatewayProxyEventV2;
    return this.interaction(event);
  }

  /** Runs the Teams handler on a POST to the bot's messaging endpoint, as the Bot Connector's would. */
  teamsActivity(request: {
    headers: Record<string, string>;
    body: string;
  }): Promise<APIGatewayProxyStructuredResultV2> {
    if (!this.teams) throw new Error('this loop runs without Teams');
    return this.teams.handler(messagingEvent(request.headers, request.body));
  }

  /** Counts a background run (a poster run) as running until it settles, for {@link idle}. */
  track(run: Promise<unknown>): void {
    const settled = run.catch(() => undefined);
    this.running.add(settled);
    void settled.finally(() => this.running.delete(settled));
  }

  /** Resolves when no execution is running and every audit record so far is archived. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
    await this.aws.stream.drained();
  }

  /** Stops every server. Handler modules stay loaded: start no second loop in this process. */
  async close(): Promise<void> {
    this.scheduler.close();
    this.poster.close();
    await this.aws.stream.drained();
    await this.digests
      .close()
      .catch((error: Error) => console.error(`shutdown digest run failed: ${error.message}`));
    await Promise.all([
      this.aws.close(),
      this.slack?.close(),
      this.fakeAws.close(),
      this.enforcement.close(),
      this.traces?.close(),
      this.teams?.close(),
    ]);
  }
}

/** The EventBridge per-entry error for an invalid entry, or undefined. */
/** The bus name of an entry (a name or an ARN; absent is the default bus). */
function busIdOf(entry: PutEventsEntry): string | undefined {
  const bus = entry.EventBusName ?? 'default';
  return bus.startsWith('arn:') ? bus.split('/').pop() : bus;
}

function entryProblem(entry: PutEventsEntry, busName: string): PutEventsResultEntry | undefined {
  const bus = entry.EventBusName ?? 'default';
  const busId = busIdOf(entry);
  // The default bus takes CloudTrail's API-call events only: the sandbox stands in for CloudTrail.
  const cloudTrail = busId === 'default' && entry.DetailType === 'AWS API Call via CloudTrail';
  if (busId !== busName && !cloudTrail) {
    return { ErrorCode: 'InvalidArgument', ErrorMessage: `Event bus ${bus} does not exist.` };
  }
  if (!entry.Source)
    return {
      ErrorCode: 'InvalidArgument',
      ErrorMessage: 'Parameter Source is not valid. Reason: Source is a required argument.',
    };
  if (!entry.DetailType) {
    return {
      ErrorCode: 'InvalidArgument',
      ErrorMessage: 'Parameter DetailType is not valid. Reason: DetailType is a required argument.',
    };
  }
  if (!entry.Detail)
    return {
      ErrorCode: 'InvalidArgument',
      ErrorMessage: 'Parameter Detail is not valid. Reason: Detail is a required argument.',
    };
  // EventBridge parses Detail itself; past its documented 1,000 levels it does not process the event.
  // The sandbox also refuses duplicate keys, which EventBridge resolves before any rule target sees them.
  const parsed = parseStrictJson(entry.Detail, { maxDepth: EVENTBRIDGE_MAX_DEPTH });
  if (!parsed.ok) {
    const malformed = parsed.reason.startsWith('not valid JSON');
    return {
      ErrorCode: malformed ? 'MalformedDetail' : 'InvalidArgument',
      ErrorMessage: malformed
        ? 'Detail is malformed.'
        : `Parameter Detail is not valid. Reason: ${parsed.reason}.`,
    };
  }
  const detail = parsed.value;
  if (detail === null || typeof detail !== 'object' || Array.isArray(detail))
    return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
  return undefined;
}

function eventTime(time: PutEventsEntry['Time']): string {
  const date = time === undefined ? new Date() : new Date(typeof time === 'number' ? time * 1000 : time);
  return `${date.toISOString().slice(0, 19)}Z`;
}

/** A handler's function name for the meter: its directory (`lambdas/<name>/handler.ts`). */
function functionNameOf(entry: string): string {
  return entry.split(/[\\/]/).slice(-2, -1)[0] ?? entry;
}
