/**
 * The approval workflow as deployed: its ASL with every intrinsic resolved to
 * placeholder ARNs, and the requests its role makes for each Task state
 * (Lambda invocations, the Announce PutEvents with its source and detail-type).
 */
import type { IamRequest } from './requests.js';
import type { DeployedStack } from './template.js';

/** An ASL state, as far as the proof reads it. */
export interface AslState {
  Type: string;
  Resource?: string;
  Parameters?: Record<string, unknown>;
  [key: string]: unknown;
}

/** The state machine's definition with placeholder ARNs. */
export function deployedDefinition(deployed: DeployedStack): {
  StartAt: string;
  States: Record<string, AslState>;
} {
  const id = deployed.only('AWS::StepFunctions::StateMachine');
  const props = deployed.resources[id]!.Properties!;
  const text = props.DefinitionString
    ? String(deployed.resolve(props.DefinitionString))
    : JSON.stringify(deployed.resolve(props.Definition));
  return JSON.parse(text) as { StartAt: string; States: Record<string, AslState> };
}

/** The state machine role's logical id. */
export function workflowRole(deployed: DeployedStack): string {
  const id = deployed.only('AWS::StepFunctions::StateMachine');
  return deployed.roleByArn(String(deployed.resolve(deployed.resources[id]!.Properties!.RoleArn)));
}

/** The requests the workflow's Task states make as the state machine role. */
export function workflowRequests(deployed: DeployedStack): IamRequest[] {
  const role = workflowRole(deployed);
  const base = { handler: 'workflow', roleLogicalId: role };
  const out: IamRequest[] = [];
  const visit = (states: Record<string, AslState>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Parallel')
        for (const branch of (state.Branches ?? []) as { States: Record<string, AslState> }[])
          visit(branch.States);
      if (state.Type === 'Map')
        visit(((state.ItemProcessor ?? state.Iterator) as { States: Record<string, AslState> }).States);
      if (state.Type !== 'Task') continue;
      const resource = String(state.Resource);
      const p = state.Parameters ?? {};
      if (resource.startsWith('arn:aws:states:::lambda:invoke')) {
        out.push({
          ...base,
          handler: `workflow ${name}`,
          action: 'lambda:InvokeFunction',
          resource: String(p.FunctionName),
          context: {},
        });
      } else if (resource.startsWith('arn:aws:lambda:')) {
        out.push({
          ...base,
          handler: `workflow ${name}`,
          action: 'lambda:InvokeFunction',
          resource,
          context: {},
        });
      } else if (resource.startsWith('arn:aws:states:::events:putEvents')) {
        for (const entry of (p.Entries ?? []) as Record<string, unknown>[]) {
          const bus = String(entry.EventBusName ?? 'default');
          const busArn = bus.startsWith('arn:')
            ? bus
            : deployed.attr(
                deployed.ofType('AWS::Events::EventBus').find((b) => deployed.attr(b, 'Name') === bus)!,
                'Arn',
              );
          out.push({
            ...base,
            handler: `workflow ${name}`,
            action: 'events:PutEvents',
            resource: busArn,
            context: {
              'events:source': String(entry.Source),
              'events:detail-type': String(entry.DetailType),
            },
          });
        }
      } else {
        throw new Error(`workflow state ${name}: no IAM mapping for ${resource}; add one`);
      }
    }
  };
  visit(deployedDefinition(deployed).States);
  return out;
}
