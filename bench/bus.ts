/** The benchmarks' agent: an EventBridge client that publishes to a sandbox server's PutEvents. */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';

/** A client for the sandbox server at `url` (any credentials: the sandbox names the agent by `Source`). */
export const sandboxBus = (url: string) =>
  new EventBridgeClient({
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
