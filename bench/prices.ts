/**
 * Public on-demand AWS prices for US East (N. Virginia), the one dated table
 * the cost bench (`bench/cost.ts`) multiplies measured units by. Each price
 * says the AWS pricing page it belongs to, where it was read (the AWS page
 * itself, or a page quoting it when the stored copy of the AWS page did not
 * show the figure) and when. A price marked `assumed` was not found in the
 * material searched: it is the figure believed current, to be checked.
 *
 * Free tiers are ignored on purpose: the figures are the marginal price of
 * one more approval on an account that already uses its free tier elsewhere.
 */

/** One price. */
export interface Price {
  /** US dollars per `per` units. */
  usd: number;
  per: number;
  unit: string;
  /** The AWS pricing page the price belongs to. */
  page: string;
  /** Where the figure was read, when not on `page` itself. */
  readOn?: string;
  /** Date the figure was read (YYYY-MM-DD). */
  read: string;
  /** True when the figure was not found in the material searched. */
  assumed?: boolean;
}

/** Region every price is for. */
export const PRICE_REGION = 'us-east-1';
const READ = '2026-12-02';

export const PRICES = {
  stateTransition: {
    usd: 0.025,
    per: 1_000,
    unit: 'Step Functions Standard state transitions',
    page: 'https://aws.amazon.com/step-functions/pricing/',
    read: READ,
  },
  lambdaRequest: {
    usd: 0.2,
    per: 1_000_000,
    unit: 'Lambda requests',
    page: 'https://aws.amazon.com/lambda/pricing/',
    readOn: 'https://cloudchipr.com/blog/aws-lambda-pricing',
    read: READ,
  },
  lambdaArmGbSecond: {
    usd: 0.0000133334,
    per: 1,
    unit: 'Lambda GB-seconds (arm64, first 7.5 billion a month)',
    page: 'https://aws.amazon.com/lambda/pricing/',
    readOn: 'https://cloudchipr.com/blog/aws-lambda-pricing',
    read: READ,
  },
  dynamoWrite: {
    usd: 0.625,
    per: 1_000_000,
    unit: 'DynamoDB on-demand write request units',
    page: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    readOn: 'https://airbyte.com/data-engineering-resources/dynamodb-pricing',
    read: READ,
  },
  dynamoRead: {
    usd: 0.125,
    per: 1_000_000,
    unit: 'DynamoDB on-demand read request units',
    page: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    readOn: 'https://airbyte.com/data-engineering-resources/dynamodb-pricing',
    read: READ,
  },
  s3Put: {
    usd: 0.005,
    per: 1_000,
    unit: 'S3 Standard PUT, COPY, POST, LIST requests',
    page: 'https://aws.amazon.com/s3/pricing/',
    readOn: 'https://c3x.dev/blog/s3-request-fees-explained',
    read: READ,
  },
  s3Get: {
    usd: 0.0004,
    per: 1_000,
    unit: 'S3 Standard GET, HEAD, SELECT requests',
    page: 'https://aws.amazon.com/s3/pricing/',
    readOn: 'https://c3x.dev/blog/s3-request-fees-explained',
    read: READ,
  },
  customEvent: {
    usd: 1.0,
    per: 1_000_000,
    unit: 'EventBridge custom events put (64 KB chunks)',
    page: 'https://aws.amazon.com/eventbridge/pricing/',
    readOn: 'https://cloudburn.io/blog/amazon-eventbridge-pricing',
    read: READ,
  },
  schedulerInvocation: {
    usd: 1.0,
    per: 1_000_000,
    unit: 'EventBridge Scheduler invocations (beyond 14 million a month free)',
    page: 'https://aws.amazon.com/eventbridge/pricing/',
    readOn: 'https://cloudburn.io/blog/amazon-eventbridge-pricing',
    read: READ,
  },
  kmsKeyMonth: {
    usd: 1.0,
    per: 1,
    unit: 'KMS customer managed key-months (symmetric or asymmetric)',
    page: 'https://aws.amazon.com/kms/pricing/',
    read: READ,
  },
  kmsRotatedKeyMonth: {
    usd: 1.0,
    per: 1,
    unit: 'KMS key-months per rotated backing key (first two rotations)',
    page: 'https://aws.amazon.com/kms/pricing/',
    read: READ,
  },
  kmsRequest: {
    usd: 0.03,
    per: 10_000,
    unit: 'KMS symmetric requests',
    page: 'https://aws.amazon.com/kms/pricing/',
    readOn: 'https://www.wring.co/blog/aws-kms-pricing-guide',
    read: READ,
  },
  kmsAsymmetricRequest: {
    usd: 0.15,
    per: 10_000,
    unit: 'KMS asymmetric (ECC) Sign requests',
    page: 'https://aws.amazon.com/kms/pricing/',
    readOn:
      'https://www.factualminds.com/blog/aws-kms-pricing-keys-requests-multi-region/ ("5x the symmetric rate"; another page quotes $0.03)',
    read: READ,
    assumed: true,
  },
  secretMonth: {
    usd: 0.4,
    per: 1,
    unit: 'Secrets Manager secret-months',
    page: 'https://aws.amazon.com/secrets-manager/pricing/',
    readOn: 'https://hivebook.wiki/wiki/aws-secrets-manager-rotated-secrets-dynamic-db-credentials-kms',
    read: READ,
  },
  secretsApiCall: {
    usd: 0.05,
    per: 10_000,
    unit: 'Secrets Manager API calls',
    page: 'https://aws.amazon.com/secrets-manager/pricing/',
    readOn: 'https://hivebook.wiki/wiki/aws-secrets-manager-rotated-secrets-dynamic-db-credentials-kms',
    read: READ,
  },
  logsIngestionGb: {
    usd: 0.5,
    per: 1,
    unit: 'CloudWatch Logs ingestion GB (standard class; vended logs start at the same rate)',
    page: 'https://aws.amazon.com/cloudwatch/pricing/',
    readOn: 'https://www.factualminds.com/blog/amazon-cloudwatch-pricing-metrics-logs-alarms-dashboards/',
    read: READ,
  },
  customMetricMonth: {
    usd: 0.3,
    per: 1,
    unit: 'CloudWatch custom metric-months (first 10,000 metrics)',
    page: 'https://aws.amazon.com/cloudwatch/pricing/',
    readOn: 'https://signoz.io/guides/cloudwatch-pricing',
    read: READ,
  },
  alarmMetricMonth: {
    usd: 0.1,
    per: 1,
    unit: 'CloudWatch standard-resolution alarm metric-months',
    page: 'https://aws.amazon.com/cloudwatch/pricing/',
    read: READ,
    assumed: true,
  },
  dashboardMonth: {
    usd: 3.0,
    per: 1,
    unit: 'CloudWatch dashboard-months (beyond the 3 free)',
    page: 'https://aws.amazon.com/cloudwatch/pricing/',
    readOn: 'https://www.factualminds.com/blog/amazon-cloudwatch-pricing-metrics-logs-alarms-dashboards/',
    read: READ,
  },
  traceRecorded: {
    usd: 5.0,
    per: 1_000_000,
    unit: 'X-Ray traces recorded',
    page: 'https://aws.amazon.com/xray/pricing/',
    readOn: 'https://aws.amazon.com/de/xray/pricing/',
    read: READ,
  },
} as const satisfies Record<string, Price>;

/** A price's key. */
export type PriceKey = keyof typeof PRICES;

/** Dollars for `units` of a price. */
export function cost(key: PriceKey, units: number): number {
  const price: Price = PRICES[key];
  return (units * price.usd) / price.per;
}
