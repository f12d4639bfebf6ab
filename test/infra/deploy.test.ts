/**
 * What AWS would reject at deploy time, or accept and then break silently:
 * each finding of a review of the synthesized template against AWS's
 * documented behaviour, asserted on the template (no AWS account needed).
 */
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { busPolicyStatements, synth } from './support.js';

describe('bus policy', () => {
  it('is one document on the bus itself: no separate policy resources that deploy in parallel', () => {
    // Prepare / Act
    const { template } = synth();
    // Assess: concurrent PutPermission calls on one bus can lose a statement; one Policy property cannot.
    template.resourceCountIs('AWS::Events::EventBusPolicy', 0);
    const sids = [...busPolicyStatements(template).keys()];
    expect(sids).toEqual([
      'DenyUnknownSources',
      'DenyForgedDecisionSource',
      'DenyForgedDecisionType',
      'DenyUnregisteredAgents',
    ]);
    // The bus cannot refer to its own Arn attribute: the policy names it by its configured name.
    for (const statement of busPolicyStatements(template).values()) {
      expect(statement.Resource).toBe('arn:aws:events:eu-west-1:123456789012:event-bus/countersign');
    }
  });

  it('with no agent registered, nobody may publish any countersign.agent.* source (fail closed)', () => {
    const { template } = synth();
    const statement = busPolicyStatements(template).get('DenyUnregisteredAgents');
    expect(statement).toEqual({
      Sid: 'DenyUnregisteredAgents',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'events:PutEvents',
      Resource: 'arn:aws:events:eu-west-1:123456789012:event-bus/countersign',
      // No exception at all: the deny applies to every principal.
      Condition: { StringLike: { 'events:source': 'countersign.agent.*' } },
    });
    template.hasResourceProperties('AWS::Events::EventBus', {
      Policy: Match.objectLike({ Version: '2012-10-17' }),
    });
  });
});
