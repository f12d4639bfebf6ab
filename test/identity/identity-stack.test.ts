/** The stack hands the IdP to the functions that need it, with read-only identity store access. */
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { IDENTITY_PROVIDER_ENV } from '../../lambdas/identity/config.js';
import { WEB_INBOX_URL_ENV } from '../../lambdas/identity/step-up.js';
import { actionsOf, logicalId, statementsByRole, synth } from '../infra/support.js';

const IDP = {
  issuer: 'https://example.okta.com',
  clientId: 'countersign',
  clientSecretId: 'countersign/oidc-client',
  apiAudience: 'api://countersign',
  identityStoreId: 'd-1234567890',
};

const envOf = (template: ReturnType<typeof synth>['template'], prefix: string) => {
  const id = logicalId(template, 'AWS::Lambda::Function', prefix);
  return template.findResources('AWS::Lambda::Function')[id]!.Properties.Environment.Variables as Record<
    string,
    unknown
  >;
};

describe('identity provider and web inbox in the stack', () => {
  it('cards link to the web inbox; the interaction handler gets the IdP configuration, no secret value', () => {
    const { template } = synth({ identityProvider: IDP, webInboxUrl: 'https://countersign.example.com' });
    for (const prefix of [
      'ApprovalWorkflowReviewFunction',
      'ApprovalWorkflowRecordFunction',
      'SlackEndpointInteractionFunction',
    ])
      expect(envOf(template, prefix)[WEB_INBOX_URL_ENV]).toBe('https://countersign.example.com');
    const configured = JSON.parse(
      String(envOf(template, 'SlackEndpointInteractionFunction')[IDENTITY_PROVIDER_ENV]),
    );
    expect(configured).toMatchObject({
      issuer: IDP.issuer,
      clientSecretId: 'countersign/oidc-client',
      identityStoreId: IDP.identityStoreId,
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [IDENTITY_PROVIDER_ENV]: Match.anyValue() }) },
    });
  });

  it('the interaction and web inbox roles, and only they, read the identity store; nothing writes to it', () => {
    const { template } = synth({ identityProvider: IDP, webInboxUrl: 'https://countersign.example.com' });
    const readers = [...statementsByRole(template)].filter(([, statements]) =>
      statements.some((s) => actionsOf(s).some((a) => a.startsWith('identitystore:'))),
    );
    // The web inbox verifies sign-ins and reads the signed-in person's groups from the store too.
    expect(readers.map(([role]) => role).sort()).toEqual([
      expect.stringMatching(/^SlackEndpointInteractionFunction/),
      expect.stringMatching(/^WebInboxWebFunction/),
    ]);
    for (const [, statements] of readers) {
      const actions = statements.flatMap(actionsOf).filter((a) => a.startsWith('identitystore:'));
      expect(actions.sort()).toEqual([
        'identitystore:DescribeGroup',
        'identitystore:GetUserId',
        'identitystore:ListGroupMembershipsForMember',
      ]);
    }
  });

  it('without them nothing is added', () => {
    const { template } = synth();
    expect(envOf(template, 'SlackEndpointInteractionFunction')).not.toHaveProperty(IDENTITY_PROVIDER_ENV);
    expect(envOf(template, 'ApprovalWorkflowReviewFunction')).not.toHaveProperty(WEB_INBOX_URL_ENV);
  });
});
