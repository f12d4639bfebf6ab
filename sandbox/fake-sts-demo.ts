/**
 * The enforcement part of `npm run demo`: once the reporting-role intent is
 * approved, the agent exchanges its grant for executor credentials (status
 * API, signed with its sandbox key), attaches exactly the approved policy with
 * them through the unmodified IAM client, and is refused a bigger policy.
 * Then a "legacy admin" that holds IAM permissions outside Countersign makes
 * the same kind of call without asking, and the detector's alert card shows
 * up in the approvals channel.
 */
import { AttachRolePolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import { CredentialsRefusedError, exchangeGrant } from '../client/credentials.js';
import type { DecisionDetail } from '../lambdas/shared/intent.js';
import { agentAccessKey, LEGACY_ADMIN_KEY } from './fake-sts-sandbox.js';

/** What the demo prints with. */
export interface DemoOutput {
  line: (text: string) => void;
  ok: (text: string) => string;
  bad: (text: string) => string;
  dim: (text: string) => string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the enforcement demo for an approved `iam:AttachRolePolicy` decision; resolves true when both halves showed. */
export async function enforcementDemo(
  endpoint: string,
  agentId: string,
  decision: DecisionDetail,
  approved: { roleName: string; policyArn: string },
  out: DemoOutput,
): Promise<boolean> {
  const base = endpoint.replace(/\/$/, '');
  const info = (await (await fetch(`${base}/api/sandbox`)).json()) as { endpoints: { iam: string } };
  const target = {
    statusUrl: base,
    credentials: async () => ({ accessKeyId: agentAccessKey(agentId), secretAccessKey: 'sandbox' }),
  };
  out.line('\nEnforcement: the approved role change runs only with credentials Countersign mints.');
  let session: Awaited<ReturnType<typeof exchangeGrant>>;
  try {
    session = await exchangeGrant(decision.grant!.grantId, target);
  } catch (error) {
    if (!(error instanceof CredentialsRefusedError)) throw error;
    out.line(out.bad(`  no credentials (${error.reason}): ${error.message}`));
    return false;
  }
  out.line(
    `  minted: ${session.roleArn} as ${session.credentials.accessKeyId}, source identity ${session.sourceIdentity}`,
  );
  out.line(out.dim(`  session policy: ${JSON.stringify(session.sessionPolicy)}`));
  const executor = new IAMClient({
    endpoint: info.endpoints.iam,
    region: 'us-east-1',
    credentials: session.credentials,
    maxAttempts: 1,
  });
  await executor.send(
    new AttachRolePolicyCommand({ RoleName: approved.roleName, PolicyArn: approved.policyArn }),
  );
  out.line(out.ok(`  AttachRolePolicy ${approved.policyArn} on ${approved.roleName}: done (approved)`));
  try {
    await executor.send(
      new AttachRolePolicyCommand({
        RoleName: approved.roleName,
        PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess',
      }),
    );
    out.line(out.bad('  AdministratorAccess with the same credentials was NOT refused'));
    return false;
  } catch (error) {
    out.line(
      out.ok(`  AdministratorAccess with the same credentials: ${(error as Error).name} (not approved)`),
    );
  }
  const again = await exchangeGrant(decision.grant!.grantId, target).catch((e: Error) => e);
  out.line(
    out.ok(
      `  a second exchange of the grant: ${again instanceof CredentialsRefusedError ? again.reason : 'ALLOWED'}`,
    ),
  );

  out.line('\nDetection: a principal that holds the permission anyway acts without asking.');
  const before = ((await (await fetch(`${base}/slack/messages`)).json()) as unknown[]).length;
  const legacy = new IAMClient({
    endpoint: info.endpoints.iam,
    region: 'us-east-1',
    credentials: { accessKeyId: LEGACY_ADMIN_KEY, secretAccessKey: 'legacy' },
    maxAttempts: 1,
  });
  await legacy.send(
    new AttachRolePolicyCommand({
      RoleName: approved.roleName,
      PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess',
    }),
  );
  out.line('  legacy-admin attached AdministratorAccess (CloudTrail recorded it)');
  for (let i = 0; i < 50; i++) {
    const messages = (await (await fetch(`${base}/slack/messages`)).json()) as {
      text?: string;
      channel: string;
    }[];
    const alert = messages.slice(before).find((m) => m.text?.includes('unapproved privileged action'));
    if (alert) {
      out.line(
        out.ok(`  caught: alert card in ${alert.channel}, audited on its own chain (see the console)`),
      );
      return true;
    }
    await sleep(100);
  }
  out.line(out.bad('  no alert card appeared'));
  return false;
}
