/** A Slack profile email is an identity only in its canonical form; a lookalike is unresolved, never folded. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentityResolver } from '../../lambdas/shared/identity.js';
import { createSlackClient } from '../../lambdas/shared/slack.js';
import { FAKE_SLACK_TOKEN, type RunningFakeSlack, startFakeSlack } from '../../sandbox/fake-slack.js';

let slack: RunningFakeSlack;
beforeAll(async () => {
  slack = await startFakeSlack({
    directory: {
      users: [
        { id: 'U0TAGGED1', name: 'erin', realName: 'Erin', email: 'Erin+Slack@Example.com' },
        { id: 'U0LOOKAL2', name: 'carol2', realName: 'Carol', email: 'c\u0430rol@example.com' },
        { id: 'U0PUNYCO3', name: 'carol3', realName: 'Carol', email: 'carol@xn--exmple-cua.com' },
      ],
      groups: [],
    },
  });
});
afterAll(() => slack.close());

describe('identity resolution canonicalises the profile email', () => {
  const resolver = () => createIdentityResolver(createSlackClient(FAKE_SLACK_TOKEN, slack.url));

  it('a tagged, mixed-case profile email resolves to its canonical form', async () => {
    expect(await resolver().resolve('U0TAGGED1', [])).toMatchObject({
      kind: 'human',
      email: 'erin@example.com',
    });
  });

  it.each([
    ['U0LOOKAL2', /U\+0430/],
    ['U0PUNYCO3', /punycode/],
  ])('%s: a lookalike profile email leaves the user unresolved, with the reason', async (id, reason) => {
    const identity = await resolver().resolve(id, []);
    expect(identity).toMatchObject({ kind: 'unresolved', reason: expect.stringMatching(reason) });
  });
});
