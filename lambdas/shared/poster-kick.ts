/**
 * Kicking the card poster (lambdas/poster): an asynchronous invoke of the
 * function named by `COUNTERSIGN_POSTER_FUNCTION_ARN`. Review kicks it after
 * queueing a card, Record after a decided card left the queue, the
 * interaction handler after handing it a rate-limited card update. The Lambda
 * client is loaded on the first kick: the interaction handler's cold start
 * must answer Slack within 3 s, and most of its invocations never kick.
 */
import { lambdaClientConfig, observed } from './client-config.js';

/** What runs instead of the invoke (the sandbox runs the poster in process). */
let replacement: ((kick: string, channel: string) => Promise<void>) | undefined;

/** Replaces every handler's kick in this process; the sandbox's loop calls it once (sandbox/loop.ts). */
export function usePosterKick(kick: (kick: string, channel: string) => Promise<void>): void {
  replacement = kick;
}

/** Starts the poster (`kick` names who asked, for its logs); a no-op without a function ARN. */
export function posterKick(
  functionArn: string | undefined,
  kick: string,
): (channel: string) => Promise<void> {
  let invoke: Promise<(payload: string) => Promise<unknown>> | undefined;
  return async (channel) => {
    if (replacement) return replacement(kick, channel);
    if (!functionArn) return;
    invoke ??= import('@aws-sdk/client-lambda').then(({ InvokeCommand, LambdaClient }) => {
      const client = observed(new LambdaClient(lambdaClientConfig));
      return (payload: string) =>
        client.send(
          new InvokeCommand({ FunctionName: functionArn, InvocationType: 'Event', Payload: payload }),
        );
    });
    await (await invoke)(JSON.stringify({ kick }));
  };
}
