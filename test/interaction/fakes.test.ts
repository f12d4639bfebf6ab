/**
 * The sandbox fakes behave like the services they stand in for, as far as
 * Countersign relies on it: the fake Slack (auth, errors, JSON and form
 * bodies, views, paging) and the fake AWS (task callbacks, secrets).
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSlackClient } from '../../lambdas/shared/slack.js';
import { type RunningFakeAws, startFakeAws } from '../../sandbox/fake-aws.js';
import {
  FAKE_SLACK_TOKEN,
  loadDirectory,
  type RunningFakeSlack,
  startFakeSlack,
} from '../../sandbox/fake-slack.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../support/local-aws.js';

let slack: RunningFakeSlack;
let aws: RunningFakeAws;
beforeAll(async () => {
  slack = await startFakeSlack({ directory: loadDirectory() });
  aws = await startFakeAws({ secrets: { 'countersign/slack': '{"botToken":"xoxb-1"}' } });
});
afterAll(async () => {
  await slack.close();
  await aws.close();
});
beforeEach(() => {
  slack.reset();
  aws.tasks.reset();
});

describe('fake Slack', () => {
  const web = () => createSlackClient(FAKE_SLACK_TOKEN, slack.url);
  const post = (method: string, body: string, headers: Record<string, string>) =>
    fetch(`${slack.url}${method}`, { method: 'POST', body, headers }).then(
      (r) => r.json() as Promise<Record<string, unknown>>,
    );

  it('accepts JSON bodies and form bodies alike, parsing blocks', async () => {
    // Act
    const json = await post(
      'chat.postMessage',
      JSON.stringify({ channel: 'C0APPROVAL', blocks: [{ type: 'divider' }] }),
      {
        authorization: `Bearer ${FAKE_SLACK_TOKEN}`,
        'content-type': 'application/json',
      },
    );
    const form = await post(
      'chat.postMessage',
      new URLSearchParams({
        token: FAKE_SLACK_TOKEN,
        channel: 'C0APPROVAL',
        text: 'hi',
        blocks: '[{"type":"divider"}]',
      }).toString(),
      { 'content-type': 'application/x-www-form-urlencoded' },
    );

    // Assess
    expect(json.ok).toBe(true);
    expect(form.ok).toBe(true);
    expect(slack.messages.map((m) => m.blocks)).toEqual([[{ type: 'divider' }], [{ type: 'divider' }]]);
  });

  it.each([
    ['a wrong token', 'chat.postMessage', { channel: 'C0APPROVAL', text: 'x' }, 'xoxb-wrong', 'invalid_auth'],
    ['no token', 'chat.postMessage', { channel: 'C0APPROVAL', text: 'x' }, undefined, 'not_authed'],
    [
      'an unknown channel',
      'chat.postMessage',
      { channel: 'C0NOWHERE', text: 'x' },
      FAKE_SLACK_TOKEN,
      'channel_not_found',
    ],
    ['no text or blocks', 'chat.postMessage', { channel: 'C0APPROVAL' }, FAKE_SLACK_TOKEN, 'no_text'],
    [
      'an update of an unknown message',
      'chat.update',
      { channel: 'C0APPROVAL', ts: '1.2', text: 'x' },
      FAKE_SLACK_TOKEN,
      'message_not_found',
    ],
    [
      'an ephemeral to an unknown user',
      'chat.postEphemeral',
      { channel: 'C0APPROVAL', user: 'U0NOBODY0', text: 'x' },
      FAKE_SLACK_TOKEN,
      'user_not_found',
    ],
    [
      'an unknown user group',
      'usergroups.users.list',
      { usergroup: 'S0NOPE' },
      FAKE_SLACK_TOKEN,
      'no_such_subteam',
    ],
    ['an unknown method', 'chat.scheduleMessage', {}, FAKE_SLACK_TOKEN, 'unknown_method'],
  ])('answers %s like Slack', async (_name, method, params, token, error) => {
    // Act
    const answer = await post(method, JSON.stringify(params), {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    });

    // Assess
    expect(answer).toEqual({ ok: false, error });
    expect(slack.messages).toEqual([]);
  });

  it('opens and updates views, and pages users.list', async () => {
    // Prepare
    const client = web();

    // Act
    const opened = await client.views.open({
      trigger_id: 't-1',
      view: { type: 'modal', title: { type: 'plain_text', text: 'Deny' }, blocks: [] },
    });
    await client.views.update({
      view_id: opened.view!.id!,
      view: { type: 'modal', title: { type: 'plain_text', text: 'Denied' }, blocks: [] },
    });
    const page1 = await client.users.list({ limit: 5 });
    const page2 = await client.users.list({ limit: 5, cursor: page1.response_metadata!.next_cursor! });

    // Assess
    expect(slack.views.get(opened.view!.id!)?.view).toMatchObject({ title: { text: 'Denied' } });
    expect(page1.members).toHaveLength(5);
    expect(page2.response_metadata?.next_cursor).toBe('');
    expect([...page1.members!, ...page2.members!].map((m) => m.id)).toEqual(
      loadDirectory().users.map((u) => u.id),
    );
  });

  it('keeps the current content of a message after updates', async () => {
    // Prepare
    const client = web();
    const posted = await client.chat.postMessage({ channel: 'C0APPROVAL', text: 'v1' });

    // Act
    await client.chat.update({ channel: 'C0APPROVAL', ts: posted.ts!, text: 'v2' });

    // Assess
    expect(slack.message('C0APPROVAL', posted.ts!)?.text).toBe('v2');
    expect(slack.messages.map((m) => `${m.method}:${m.text}`)).toEqual([
      'chat.postMessage:v1',
      'chat.update:v2',
    ]);
  });
});

describe('fake AWS', () => {
  const sfn = () =>
    new SFNClient({ endpoint: aws.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });

  it('settles a registered task once through its callbacks, then answers TaskTimedOut', async () => {
    // Prepare
    const seen: string[] = [];
    aws.tasks.register('tok-1', {
      onTaskHeartbeat: (token) => {
        seen.push(`heartbeat:${token}`);
      },
      onTaskFailure: (token, error, cause) => {
        seen.push(`failure:${token}:${error}:${cause}`);
      },
    });
    const client = sfn();

    // Act
    await client.send(new SendTaskHeartbeatCommand({ taskToken: 'tok-1' }));
    await client.send(
      new SendTaskFailureCommand({ taskToken: 'tok-1', error: 'Countersign.Denied', cause: 'no' }),
    );
    const again = await client
      .send(new SendTaskSuccessCommand({ taskToken: 'tok-1', output: '{}' }))
      .catch((e: Error) => e);
    const unknown = await client
      .send(new SendTaskSuccessCommand({ taskToken: 'tok-2', output: '{}' }))
      .catch((e: Error) => e);
    const badOutput = await client
      .send(new SendTaskSuccessCommand({ taskToken: 'tok-1', output: 'not json' }))
      .catch((e: Error) => e);

    // Assess
    expect(seen).toEqual(['heartbeat:tok-1', 'failure:tok-1:Countersign.Denied:no']);
    expect(aws.tasks.state('tok-1')).toBe('failed');
    expect([(again as Error).name, (unknown as Error).name, (badOutput as Error).name]).toEqual([
      'TaskTimedOut',
      'TaskDoesNotExist',
      'InvalidOutput',
    ]);
    expect(aws.tasks.calls.map((c) => c.result)).toEqual([
      'ok',
      'ok',
      'TaskTimedOut',
      'TaskDoesNotExist',
      'InvalidOutput',
    ]);
  });

  it('uses the registry-wide callbacks and accepts any token when autoRegister is on', async () => {
    // Prepare
    const outputs: unknown[] = [];
    aws.tasks.callbacks = { onTaskSuccess: (_token, output) => void outputs.push(output) };
    aws.tasks.autoRegister = true;

    // Act
    await sfn().send(new SendTaskSuccessCommand({ taskToken: 'any', output: '{"status":"APPROVED"}' }));
    aws.tasks.autoRegister = false;
    aws.tasks.callbacks = {};

    // Assess
    expect(outputs).toEqual([{ status: 'APPROVED' }]);
  });

  it('serves secrets by name and by ARN, and answers ResourceNotFoundException otherwise', async () => {
    // Prepare
    const sm = new SecretsManagerClient({
      endpoint: aws.url,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });

    // Act
    const byName = await sm.send(new GetSecretValueCommand({ SecretId: 'countersign/slack' }));
    const byArn = await sm.send(new GetSecretValueCommand({ SecretId: byName.ARN }));
    const missing = await sm.send(new GetSecretValueCommand({ SecretId: 'other' })).catch((e: Error) => e);

    // Assess
    expect(byName.SecretString).toBe('{"botToken":"xoxb-1"}');
    expect(byArn.Name).toBe('countersign/slack');
    expect((missing as Error).name).toBe('ResourceNotFoundException');
  });
});
