/**
 * `countersign doctor`: after `cdk deploy`, checks the deployed stack and its
 * Slack app and prints one line per check. The checks live in `doctor/`;
 * this module parses options, builds the clients once and prints.
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { IAMClient } from '@aws-sdk/client-iam';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { apiGatewayAccountReader } from '../doctor/api-gateway.js';
import { checkStack, type DoctorClients, formatResult, runDoctor } from '../doctor/checks.js';
import { intendedBusPolicy } from '../doctor/template.js';
import { createSlackClient } from '../lambdas/shared/slack.js';
import type { CliIo } from './main.js';
import { UsageError } from './main.js';

export const usage = `usage:
  countersign doctor [--stack NAME] [--region REGION] [--write-bus-policy FILE]
      Checks a deployed Countersign stack: its outputs, the Slack secret and bot
      token (auth.test), the bot's membership of the review channel, the bus
      policy against the template, Object Lock COMPLIANCE and versioning on the
      audit bucket, the digest key, the reminder Scheduler role's trust, and the
      API Gateway CloudWatch role where a REST stage logs. One line per check
      (ok, PROBLEM with its fix, or skipped); exits 1 on any problem.

      --stack             stack name (default Countersign)
      --region            region (default AWS_REGION / the profile's region)
      --write-bus-policy  also write the bus policy the template intends to FILE,
                          for aws events put-permission --policy file://FILE

  Uses the standard AWS credentials (AWS_PROFILE, ...) and endpoint variables;
  COUNTERSIGN_SLACK_API_URL points the Slack calls elsewhere (tests). Secrets
  are read, never printed. The permissions it needs: docs/doctor.md.`;

/** Builds doctor's clients once, from the default credential chain and `region`. */
export function createDoctorClients(region: string | undefined): DoctorClients {
  const config = region ? { region } : {};
  const s3Endpoint = Boolean(process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL);
  const kms = new KMSClient(config);
  return {
    cloudformation: new CloudFormationClient(config),
    secrets: new SecretsManagerClient(config),
    events: new EventBridgeClient(config),
    // A custom S3 endpoint has no per-bucket host names (see lambdas/shared/s3.ts).
    s3: new S3Client({ ...config, forcePathStyle: s3Endpoint }),
    kms,
    iam: new IAMClient(config),
    apiGateway: {
      async getAccount() {
        const reader = apiGatewayAccountReader({
          region: await kms.config.region(),
          credentials: () => kms.config.credentials(),
        });
        return reader.getAccount();
      },
    },
    slack: (botToken) => createSlackClient(botToken, process.env.COUNTERSIGN_SLACK_API_URL),
  };
}

/** Runs `countersign doctor`; `clients` is for tests. */
export async function run(argv: string[], io: CliIo, clients?: DoctorClients): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      stack: { type: 'string', default: 'Countersign' },
      region: { type: 'string' },
      'write-bus-policy': { type: 'string' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const stackName = values.stack!;
  if (!/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(stackName))
    throw new UsageError(`--stack ${stackName} is not a stack name`);
  const doctor = clients ?? createDoctorClients(values.region);

  const results = await runDoctor(doctor, stackName);
  for (const result of results) io.out(formatResult(result));
  const problems = results.filter((r) => !r.ok && !r.skipped).length;
  const skipped = results.filter((r) => r.skipped).length;
  io.out(
    `${results.length} checks: ${results.length - problems - skipped} ok, ${problems} problem${problems === 1 ? '' : 's'}, ${skipped} skipped`,
  );

  if (values['write-bus-policy']) {
    const { stack } = await checkStack(doctor.cloudformation, stackName);
    const busName = stack?.outputs.EventBusName;
    if (!stack || !busName) {
      io.err('countersign doctor: cannot write the bus policy without the stack and its EventBusName output');
      return 1;
    }
    const document = { Version: '2012-10-17', Statement: intendedBusPolicy(stack.resolver, busName) };
    const file = resolve(io.cwd, values['write-bus-policy']);
    await writeFile(file, `${JSON.stringify(document, null, 2)}\n`);
    io.out(`wrote the intended policy of bus ${busName} to ${file}`);
  }
  return problems + skipped > 0 ? 1 : 0;
}
