/**
 * Claims a key once, for inbound replay guards (a Slack request signature, a
 * client's idempotency key): a conditional put that only the first claim of a
 * key wins. The item expires by TTL.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure, type StoreDeps } from '../shared/store.js';

/** Records `key` with a conditional put; false when it was already recorded (a replay). */
export async function claimOnce(
  { ddb, table }: StoreDeps,
  key: { pk: string; sk: string },
  expiresAtSeconds: number,
): Promise<boolean> {
  try {
    await ddb.send(
      new PutCommand({
        TableName: table,
        Item: { ...key, ttl: expiresAtSeconds },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}
