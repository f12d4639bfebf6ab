/**
 * Attacker goals against the Teams channel, through public interfaces only:
 * PutEvents to the sandbox's EventBridge endpoint (a compromised agent), the
 * bot's messaging endpoint `POST /teams/messages` (anyone on the internet who
 * can reach the Function URL), and the read-only views of what the Teams
 * channel shows (`GET /teams/activities`) and of the request.
 *
 * 1. Make the Adaptive Card lie: every agent string is hostile (markdown
 *    links, bold "Approved", mention syntax, bidi and zero-width characters,
 *    a request id that reads as a status). The card must show it only as
 *    inert data: a monospace TextRun on an emphasis background (a TextRun
 *    renders no markdown), never a TextBlock, never an action or a URL of the
 *    agent's, within Teams' card size.
 * 2. Forge activities: no token, a key the Bot Framework does not publish,
 *    `alg: none`, an HMAC token keyed with the public key, another bot's
 *    token, and a genuine activity replayed. Each is refused (401, or a
 *    replay applied once) and changes nothing; the system stays healthy.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seenHashOf } from '../../lambdas/teams/adaptive-card.js';
import { FAKE_TEAMS_APP_ID, invokeActivity } from '../../sandbox/fake-teams.js';
import { makeIntent } from '../support/fixtures.js';
import { eventually, newIntentId, USER } from '../support/loop.js';
import { type Sandbox, startSandbox } from './support.js';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(async () => {
  await sandbox?.close();
});

interface Activity {
  activityId: string;
  requestId: string | null;
  card?: Record<string, unknown>;
  updates: number;
}

const activities = async (): Promise<Activity[]> =>
  ((await (await fetch(`${sandbox.server.url}/teams/activities`)).json()) as { activities: Activity[] })
    .activities;

const teamsCard = (intentId: string) =>
  eventually(async () => (await activities()).find((a) => a.requestId === intentId && a.card));

/** A directory change in production: policy shows its review in Slack and in Teams. */
const directoryChange = (overrides: Parameters<typeof makeIntent>[0] = {}) =>
  makeIntent({
    intentId: newIntentId(),
    action: 'entra:AddGroupMember',
    resource: 'group/payments-admins',
    ...overrides,
  });

/** Every element of a card with the chain of containers above it. */
function walk(
  node: unknown,
  parents: Record<string, unknown>[] = [],
  out: { node: Record<string, unknown>; parents: Record<string, unknown>[] }[] = [],
) {
  if (Array.isArray(node)) for (const n of node) walk(n, parents, out);
  else if (node && typeof node === 'object') {
    const n = node as Record<string, unknown>;
    if (typeof n.type === 'string') out.push({ node: n, parents });
    for (const value of Object.values(n))
      walk(value, typeof n.type === 'string' ? [...parents, n] : parents, out);
  }
  return out;
}

const HOSTILE = {
  justification:
    '[Approve now](https://evil.example/approve) **Approved by security** <at>security-approvers</at> \u202Eevil\u202C zero\u200Bwidth',
  resource: 'group/payments-admins](https://evil.example)',
  impact: '# Approved\n\n- [x] reviewed by **alice@example.com**',
  model: '![img](https://evil.example/pixel.png)',
};

describe('Teams: the card cannot be made to lie', () => {
  it('hostile agent text reaches Teams only as inert monospace TextRuns, and the review still works', async () => {
    // Prepare: a compromised agent fills every string it controls.
    const intent = directoryChange({
      justification: HOSTILE.justification,
      resource: HOSTILE.resource,
      context: { impact: HOSTILE.impact },
      agent: { model: HOSTILE.model },
    });

    // Act
    const [entry] = await sandbox.put([intent]);
    expect(entry).toHaveProperty('EventId');
    const posted = await teamsCard(intent.intentId);

    // Assess: no TextBlock anywhere (TextBlocks render markdown), no URL action, no image.
    const card = posted.card!;
    const elements = walk(card);
    expect(elements.filter((e) => e.node.type === 'TextBlock')).toEqual([]);
    expect(
      elements.filter((e) => ['Action.OpenUrl', 'Image', 'Media'].includes(String(e.node.type))),
    ).toEqual([]);
    expect(JSON.stringify(card)).not.toMatch(/"(url|selectAction)"/);
    // Every run that carries a fragment of the attack is agent data: monospace, inside an emphasis container.
    const runs = elements.filter((e) => e.node.type === 'TextRun');
    const hostileRuns = runs.filter((e) => /evil\.example|Approve now|reviewed by/.test(String(e.node.text)));
    expect(hostileRuns.length).toBeGreaterThanOrEqual(4);
    for (const run of hostileRuns) {
      expect(run.node.fontType).toBe('Monospace');
      expect(run.parents.some((p) => p.type === 'Container' && p.style === 'emphasis')).toBe(true);
    }
    // Countersign's own runs never carry the attack and are never monospace.
    for (const run of runs.filter((e) => e.node.fontType !== 'Monospace'))
      expect(String(run.node.text)).not.toMatch(/evil\.example|\*\*|\]\(/);
    // Hidden characters are shown, not hidden.
    const shown = hostileRuns.map((r) => String(r.node.text)).join('\n');
    expect(shown).toContain('\\u202E');
    expect(shown).toContain('\\u200B');
    expect(shown).not.toMatch(/[\u202E\u200B]/);
    // The only actions are Countersign's own verbs, bound to this request.
    const executes = elements.filter((e) => e.node.type === 'Action.Execute');
    expect(new Set(executes.map((e) => e.node.verb))).toEqual(
      new Set(['approve', 'deny', 'view', 'refresh']),
    );
    for (const e of executes) expect((e.node.data as { requestId: string }).requestId).toBe(intent.intentId);
    expect(JSON.stringify(card).length).toBeLessThan(28_000);

    // The review is still decided normally, from Teams.
    const view = await sandbox.view(intent.intentId);
    const answer = await postActivity(
      invokeActivity(sandbox.loop.teams!.fake, sandbox.loop.teams!.fake.userOf(USER.alice), 'approve', {
        requestId: intent.intentId,
        seenHash: seenHashOf(view!.request as Parameters<typeof seenHashOf>[0]),
      }),
    );
    expect(answer.status).toBe(200);
    expect((await sandbox.final(intent.intentId)).decision).toMatchObject({ status: 'APPROVED' });
  });
});

async function postActivity(activity: Record<string, unknown>, authorization?: string) {
  const res = await fetch(`${sandbox.server.url}/teams/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: authorization ?? (await sandbox.loop.teams!.fake.authorization()),
    },
    body: JSON.stringify(activity),
  });
  return { status: res.status, body: await res.text() };
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('Teams: forged activities change nothing', () => {
  it('no token, foreign key, alg none, HMAC keyed with the public key, another bot, a genuine token in a malformed header: all 401; the request stays pending', async () => {
    // Prepare: a pending review in Teams, and an approve activity as alice.
    const intent = directoryChange();
    await sandbox.put([intent]);
    await teamsCard(intent.intentId);
    const view = await sandbox.reviewOpen(intent.intentId);
    const fake = sandbox.loop.teams!.fake;
    const activity = invokeActivity(fake, fake.userOf(USER.alice), 'approve', {
      requestId: intent.intentId,
      seenHash: seenHashOf(view!.request as Parameters<typeof seenHashOf>[0]),
    });
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: 'https://api.botframework.com',
      aud: FAKE_TEAMS_APP_ID,
      serviceurl: fake.serviceUrl,
      iat: now,
      nbf: now,
      exp: now + 3600,
    };
    const keys = (await (await fetch(`${fake.url}/v1/.well-known/keys`)).json()) as {
      keys: { kid: string }[];
    };
    const kid = keys.keys[0]!.kid;
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
    const hsInput = `${b64({ alg: 'HS256', kid, typ: 'JWT' })}.${b64(claims)}`;
    const hs = `${hsInput}.${createHmac('sha256', JSON.stringify(keys.keys[0])).update(hsInput).digest('base64url')}`;
    const forgeries = [
      '',
      await fake.authorization({ foreignKey: true }),
      `Bearer ${none}`,
      `Bearer ${hs}`,
      await fake.authorization({ audience: '11111111-2222-4333-8444-555555555555' }),
      await fake.authorization({ serviceUrl: 'https://attacker.example/' }),
      // A genuine token inside a header that is not exactly "Bearer <JWT>".
      `${await fake.authorization()} trailing`,
      `Basic x, ${await fake.authorization()}`,
      `${await fake.authorization()}.extra`,
    ];

    // Act
    const statuses = [];
    for (const authorization of forgeries)
      statuses.push((await postActivity(activity, authorization)).status);

    // Assess
    expect(statuses).toEqual(forgeries.map(() => 401));
    const after = await sandbox.view(intent.intentId);
    expect(after?.status).toBe('PENDING');
    expect(after?.votes).toEqual([]);
    expect(after?.audit.map((r) => r.kind)).toEqual(view?.audit.map((r) => r.kind));
  });

  it('a genuine activity replayed is applied once', async () => {
    // Prepare: quorum-1 review; a captured, validly signed approve of bob's with a fixed activity id.
    const intent = directoryChange();
    await sandbox.put([intent]);
    await teamsCard(intent.intentId);
    const view = await sandbox.reviewOpen(intent.intentId);
    const fake = sandbox.loop.teams!.fake;
    const captured = invokeActivity(
      fake,
      fake.userOf(USER.dave),
      'deny',
      { requestId: intent.intentId, reason: 'no' },
      { id: `f:${newIntentId()}` },
    );
    const authorization = await fake.authorization();

    // Act: dave (in no approver group) is refused; the replay of the same activity is not even evaluated.
    const first = await postActivity(captured, authorization);
    const replay = await postActivity(captured, authorization);

    // Assess
    expect(first.status).toBe(200);
    expect(JSON.parse(first.body).value.body[0].items[0].inlines[0].text).toMatch(
      /You can't deny this request/,
    );
    expect(replay.status).toBe(200);
    expect(replay.body).toMatch(/already received; it is not applied twice/);
    const after = await sandbox.view(intent.intentId);
    expect(after?.status).toBe('PENDING');
    expect(after!.audit.filter((r) => r.kind === 'refused')).toHaveLength(1);
    expect(view?.status).toBe('PENDING');
    await sandbox.assertHealthy();
  });
});
