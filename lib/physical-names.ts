/**
 * Physical names for resources that must carry one (a required prefix, or a
 * name other code needs before deploy). A literal name collides with a second
 * copy of the stack in the same account and region, and with a retained
 * leftover after `cdk destroy` + `cdk deploy`; these names cannot.
 */
import { Aws, Fn } from 'aws-cdk-lib';

/**
 * The UUID of this stack instance (the last segment of `AWS::StackId`).
 * Another copy of the stack, or the same stack deployed again after a
 * destroy, gets a different one.
 */
export function stackInstanceId(): string {
  return Fn.select(2, Fn.split('/', Aws.STACK_ID));
}

/**
 * `<prefix><stack name>-<stack instance UUID>`: unique per stack instance, and
 * readable in the console. The stack name is at most 128 characters, the UUID 36.
 */
export function instanceScopedName(prefix: string): string {
  return Fn.join('', [prefix, Aws.STACK_NAME, '-', stackInstanceId()]);
}
