/**
 * Signed-in people through the review core: real tokens from the local
 * OpenID provider, verified, become actors of the `web` and `api` channels;
 * the core applies the Slack invariants to them and records, on every vote,
 * decision and audit record, the channel and the sign-in (issuer, subject,
 * amr, acr, auth_time). Slack users are linked to the IdP by verified email.
 * DynamoDB is dynalite, the task API and Slack are the local fakes.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  channelResolver,
  linkedSlackResolver,
  signInResolver,
} from '../../lambdas/identity/actor-resolver.js';
import type { SignIn } from '../../lambdas/identity/contract.js';
import { createTokenVerifier } from '../../lambdas/identity/token-verifier.js';
import type { ReviewCoreDeps, ReviewVerb } from '../../lambdas/review-core/contract.js';
import { runReviewCommand } from '../../lambdas/review-core/dispatch.js';
import { readChain } from '../../lambdas/shared/audit.js';
import { createIdentityResolver } from '../../lambdas/shared/identity.js';
import { createSlackClient } from '../../lambdas/shared/slack.js';
import { getRequest } from '../../lambdas/shared/store.js';
import { type RunningFakeAws, startFakeAws } from '../../sandbox/fake-aws.js';
import {
  FAKE_SLACK_TOKEN,
  loadDirectory,
  type RunningFakeSlack,
  startFakeSlack,
} from '../../sandbox/fake-slack.js';
import { directoryPeople, type LocalIdp, localIdpDirectory, startLocalIdp } from '../../sandbox/idp.js';
import { signInHeadless } from '../../sandbox/idp-sign-in.js';
import { captureLogger } from '../interaction/harness.js';
import { DEMO, type SeedOptions, seedPendingRequest } from '../support/fixtures.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, type LocalAws, startLocalAws } from '../support/local-aws.js';

const INBOX = 'https://countersign.example.com';
let aws: LocalAws;
let fakeAws: RunningFakeAws;
let slack: RunningFakeSlack;
let idp: LocalIdp;
let sfn: SFNClient;
let deps: ReviewCoreDeps;
const logger = captureLogger();
const signIns = new Map<string, SignIn>();

/** Signs `email` in at the local IdP and verifies the access token, as the approval API does. */
async function signedIn(email: string, mfa = true): Promise<SignIn> {
  const key = `${email}:${mfa}`;
  const cached = signIns.get(key);
  if (cached) return cached;
  const tokens = await signInHeadless(idp, { person: email, mfa });
  const signIn = await createTokenVerifier({
    issuer: idp.issuer,
    clientId: idp.web.clientId,
    apiAudience: idp.apiAudience,
    clockToleranceSeconds: 60,
  }).verifyAccessToken(tokens.accessToken);
  signIns.set(key, signIn);
  return signIn;
}

const send = (
  channel: string,
  userId: string,
  verb: ReviewVerb,
  requestId: string,
  { signIn, ...extra }: { signIn?: SignIn; seenHash?: string; reason?: string } = {},
) =>
  runReviewCommand(deps, {
    requestId,
    verb,
    actor: { channel, userId, ...(signIn ? { signIn } : {}) },
    ...extra,
  });

async function seed(options: SeedOptions = {}) {
  const request = await seedPendingRequest(
    { ddb: aws.ddb, table: aws.table, now: () => new Date() },
    options,
  );
  fakeAws.tasks.register(request.taskToken!);
  return request;
}
const chainOf = (id: string) => readChain({ ddb: aws.ddb, table: aws.table }, id);
const stored = async (id: string) => (await getRequest({ ddb: aws.ddb, table: aws.table }, id))!;

beforeAll(async () => {
  aws = await startLocalAws();
  fakeAws = await startFakeAws();
  idp = await startLocalIdp({
    redirectUris: ['http://127.0.0.1:9/callback'],
    // Grace is a Slack user the IdP does not hold: her Slack email links to nobody.
    people: directoryPeople().filter((p) => p.subject !== 'sandbox-grace'),
  });
  slack = await startFakeSlack({ directory: loadDirectory() });
  sfn = new SFNClient({ endpoint: fakeAws.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const slackIdentity = linkedSlackResolver(
    createIdentityResolver(createSlackClient(FAKE_SLACK_TOKEN, slack.url)),
    localIdpDirectory(idp),
  );
  deps = {
    ddb: aws.ddb,
    table: aws.table,
    sfn,
    logger,
    now: () => new Date(),
    notifier: { requestChanged: async () => {}, postHocAcknowledged: async () => {} },
    webInboxUrl: INBOX,
    resolveActor: channelResolver({
      web: signInResolver({ issuer: idp.issuer }),
      api: signInResolver({ issuer: idp.issuer }),
      slack: (actor, groups) => slackIdentity.resolve(actor.userId, groups),
    }),
  };
});
afterAll(async () => {
  sfn.destroy();
  await idp.close();
  await slack.close();
  await fakeAws.close();
  await aws.close();
});
beforeEach(() => fakeAws.tasks.reset());

describe('a signed-in approver', () => {
  it('approves from the web: the vote, the decision and the audit record carry the channel and the sign-in', async () => {
    const request = await seed();
    const alice = await signedIn('alice@example.com');

    const outcome = await send('web', 'alice@example.com', 'approve', request.intentId, {
      signIn: alice,
      seenHash: request.intentHash,
    });

    expect(outcome).toMatchObject({ outcome: 'approved', decided: { status: 'APPROVED' } });
    const signInFacts = {
      issuer: idp.issuer,
      subject: 'sandbox-alice',
      amr: ['pwd', 'mfa'],
      acr: 'urn:countersign:sandbox:mfa',
      authTime: alice.authTime,
    };
    expect(typeof alice.authTime).toBe('number');
    const final = await stored(request.intentId);
    expect(final.decision?.approvers).toEqual([
      {
        slackUserId: 'alice@example.com',
        email: 'alice@example.com',
        at: expect.any(String),
        channel: 'web',
        signIn: signInFacts,
      },
    ]);
    expect(final.decision?.decidedBy).toEqual({
      slackUserId: 'alice@example.com',
      email: 'alice@example.com',
      channel: 'web',
      signIn: signInFacts,
    });
    const vote = (await chainOf(request.intentId)).find((r) => r.kind === 'vote');
    expect(vote?.actor).toEqual({
      type: 'human',
      slackUserId: 'alice@example.com',
      email: 'alice@example.com',
      channel: 'web',
      signIn: signInFacts,
    });
    expect(fakeAws.tasks.callsOf('SendTaskSuccess')).toHaveLength(1);
  });

  it('the same invariants as Slack: the owner, the person the agent acts for, no group, unverified email, no sign-in', async () => {
    const request = await seed();
    const erin = await signedIn(DEMO.owner);
    const carol = await signedIn(DEMO.onBehalfOf);
    const dave = await signedIn('dave@example.com');
    const cases = [
      ['api', erin, 'self-owner'],
      ['web', carol, 'self-on-behalf-of'],
      ['api', dave, 'not-eligible'],
      // A channel that attached an unverified sign-in, or none, still gets nobody resolved.
      ['web', { ...dave, email: 'bob@example.com', emailVerified: false }, 'unresolved'],
      ['web', undefined, 'unresolved'],
      // A sign-in from another issuer than the deployment's IdP.
      ['api', { ...dave, issuer: 'http://127.0.0.1:1', email: 'bob@example.com' }, 'unresolved'],
    ] as const;

    const outcomes = [];
    for (const [channel, signIn, _code] of cases) {
      outcomes.push(
        await send(channel, signIn?.email ?? 'someone', 'approve', request.intentId, {
          ...(signIn ? { signIn } : {}),
          seenHash: request.intentHash,
        }),
      );
    }

    expect(outcomes.map((o) => [o.outcome, o.refusal?.code])).toEqual(
      cases.map(([, , code]) => ['refused', code]),
    );
    expect((await stored(request.intentId)).approvals).toEqual([]);
    expect(fakeAws.tasks.calls).toEqual([]);
    const refusals = (await chainOf(request.intentId)).filter((r) => r.kind === 'refused');
    expect(refusals.map((r) => r.data.code)).toEqual(cases.map(([, , code]) => code));
    // Who was refused is on record with their sign-in.
    expect(refusals[1]?.actor).toMatchObject({
      channel: 'web',
      signIn: { subject: 'sandbox-carol', amr: ['pwd', 'mfa'] },
    });
  });

  it('the person the agent acts for may still withdraw (deny) from the API, with the sign-in recorded', async () => {
    const request = await seed();
    const carol = await signedIn(DEMO.onBehalfOf, false);
    const outcome = await send('api', 'carol@example.com', 'deny', request.intentId, {
      signIn: carol,
      seenHash: request.intentHash,
      reason: 'I did not ask for this',
    });
    expect(outcome).toMatchObject({ outcome: 'denied' });
    expect((await stored(request.intentId)).decision?.decidedBy).toMatchObject({
      channel: 'api',
      signIn: { subject: 'sandbox-carol', amr: ['pwd'] },
    });
  });

  it('one person is one vote across channels: Slack then web does not make a quorum of two', async () => {
    const request = await seed({ review: { quorum: 2 } });
    const alice = await signedIn('alice@example.com');

    const fromSlack = await send('slack', 'U0ALICE01', 'approve', request.intentId, {
      seenHash: request.intentHash,
    });
    const fromWeb = await send('web', 'alice@example.com', 'approve', request.intentId, {
      signIn: alice,
      seenHash: request.intentHash,
    });

    expect(fromSlack.outcome).toBe('voted');
    expect(fromWeb.outcome).toBe('already-voted');
    const current = await stored(request.intentId);
    expect(current.status).toBe('PENDING');
    expect(current.approvals).toEqual([
      { slackUserId: 'U0ALICE01', email: 'alice@example.com', at: expect.any(String), channel: 'slack' },
    ]);
    expect(fakeAws.tasks.calls).toEqual([]);
  });
});

describe('Slack users linked to the IdP by verified email', () => {
  it('a Slack user the IdP holds votes with the IdP groups', async () => {
    const request = await seed();
    const outcome = await send('slack', 'U0BOB0002', 'approve', request.intentId, {
      seenHash: request.intentHash,
    });
    expect(outcome.outcome).toBe('approved');
  });

  it('a Slack user whose email has no IdP identity is refused and audited', async () => {
    const request = await seed({ review: { approverGroups: ['security-leads'] } });
    // Grace is in security-leads in Slack, but the IdP does not hold her.
    const outcome = await send('slack', 'U0GRACE07', 'approve', request.intentId, {
      seenHash: request.intentHash,
    });
    expect(outcome).toMatchObject({ outcome: 'refused', refusal: { code: 'unresolved' } });
    expect(outcome.refusal?.message).toContain(`has no identity at ${idp.issuer}`);
    const refusal = (await chainOf(request.intentId)).find((r) => r.kind === 'refused');
    expect(refusal).toMatchObject({
      actor: { slackUserId: 'U0GRACE07', channel: 'slack' },
      data: { code: 'unresolved' },
    });
    expect((await stored(request.intentId)).approvals).toEqual([]);
  });

  it('Slack group membership alone does not count: the IdP groups decide', async () => {
    // Heidi is in security-approvers in Slack; in this IdP she is only a contractor.
    const idpOnlyContractor = await startLocalIdp({
      redirectUris: ['http://127.0.0.1:9/callback'],
      people: directoryPeople().map((p) =>
        p.subject === 'sandbox-heidi' ? { ...p, groups: ['contractors'] } : p,
      ),
    });
    try {
      const resolver = linkedSlackResolver(
        createIdentityResolver(createSlackClient(FAKE_SLACK_TOKEN, slack.url)),
        localIdpDirectory(idpOnlyContractor),
      );
      const heidi = await resolver.resolve('U0HEIDI10', ['security-approvers', 'contractors']);
      expect(heidi).toMatchObject({ kind: 'human', groups: ['contractors'] });
    } finally {
      await idpOnlyContractor.close();
    }
  });

  it('a directory that cannot answer leaves the Slack user unresolved', async () => {
    const resolver = linkedSlackResolver(
      createIdentityResolver(createSlackClient(FAKE_SLACK_TOKEN, slack.url)),
      {
        name: 'https://idp.example.com',
        findByEmail: async () => {
          throw new Error('connection refused');
        },
      },
    );
    expect(await resolver.resolve('U0ALICE01', ['security-approvers'])).toMatchObject({
      kind: 'unresolved',
      reason: expect.stringContaining('connection refused'),
    });
  });
});

describe('step-up: a request whose policy asks for a fresh multi-factor sign-in', () => {
  const STEP_UP = { amr: ['mfa'], maxAgeSeconds: 600 };

  it('a Slack click and a one-factor sign-in are refused with the page to go to; a fresh mfa sign-in approves', async () => {
    const request = await seed({ review: { stepUp: STEP_UP } });
    const page = `${INBOX}/requests/${request.intentId}`;

    const fromSlack = await send('slack', 'U0ALICE01', 'approve', request.intentId, {
      seenHash: request.intentHash,
    });
    const oneFactor = await send('web', 'bob@example.com', 'approve', request.intentId, {
      signIn: await signedIn('bob@example.com', false),
      seenHash: request.intentHash,
    });
    const mfa = await send('web', 'alice@example.com', 'approve', request.intentId, {
      signIn: await signedIn('alice@example.com'),
      seenHash: request.intentHash,
    });

    expect(fromSlack).toMatchObject({ outcome: 'refused', refusal: { code: 'step-up-required', url: page } });
    expect(fromSlack.refusal?.message).toContain(`Approve at ${page}`);
    expect(oneFactor).toMatchObject({ outcome: 'refused', refusal: { code: 'step-up-required', url: page } });
    expect(oneFactor.refusal?.message).toMatch(/needs a sign-in with mfa; yours used pwd/);
    expect(mfa).toMatchObject({ outcome: 'approved' });
    const final = await stored(request.intentId);
    expect(final.decision?.approvers.map((a) => [a.email, a.channel, a.signIn?.amr])).toEqual([
      ['alice@example.com', 'web', ['pwd', 'mfa']],
    ]);
    const refusals = (await chainOf(request.intentId)).filter((r) => r.kind === 'refused');
    expect(refusals.map((r) => [r.actor, r.data.code])).toEqual([
      [expect.objectContaining({ slackUserId: 'U0ALICE01', channel: 'slack' }), 'step-up-required'],
      [
        expect.objectContaining({ channel: 'web', signIn: expect.objectContaining({ amr: ['pwd'] }) }),
        'step-up-required',
      ],
    ]);
  });

  it('a multi-factor sign-in older than the maximum age is refused', async () => {
    const request = await seed({ review: { stepUp: STEP_UP } });
    const later = { ...deps, now: () => new Date(Date.now() + 11 * 60_000) };
    const outcome = await runReviewCommand(later, {
      requestId: request.intentId,
      verb: 'approve',
      seenHash: request.intentHash,
      actor: { channel: 'web', userId: 'alice@example.com', signIn: await signedIn('alice@example.com') },
    });
    expect(outcome).toMatchObject({ outcome: 'refused', refusal: { code: 'step-up-required' } });
    expect(outcome.refusal?.message).toMatch(/within the last 10 minutes/);
    expect((await stored(request.intentId)).approvals).toEqual([]);
  });

  it('Modify needs it too (refused before its form opens); Deny never does', async () => {
    const request = await seed({ review: { stepUp: STEP_UP, editable: ['parameters.roleName'] } });
    const modify = await runReviewCommand(deps, {
      requestId: request.intentId,
      verb: 'modify',
      stage: 'check',
      actor: { channel: 'slack', userId: 'U0ALICE01' },
    });
    expect(modify).toMatchObject({ outcome: 'refused', refusal: { code: 'step-up-required' } });
    const deny = await send('slack', 'U0BOB0002', 'deny', request.intentId, {
      seenHash: request.intentHash,
      reason: 'not without a ticket',
    });
    expect(deny).toMatchObject({ outcome: 'denied' });
  });

  it('without a configured web inbox the refusal says no page exists, and nothing is approved', async () => {
    const request = await seed({ review: { stepUp: STEP_UP } });
    const { webInboxUrl: _none, ...noInbox } = deps;
    const outcome = await runReviewCommand(noInbox, {
      requestId: request.intentId,
      verb: 'approve',
      seenHash: request.intentHash,
      actor: { channel: 'slack', userId: 'U0ALICE01' },
    });
    expect(outcome.refusal).toMatchObject({ code: 'step-up-required' });
    expect(outcome.refusal).not.toHaveProperty('url');
    expect(outcome.refusal?.message).toMatch(/configures no web inbox/);
  });
});
