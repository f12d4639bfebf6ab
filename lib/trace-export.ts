/**
 * Trace export: where the Review and Record handlers send each request's trace (an
 * OTLP/HTTP traces URL of a collector, Datadog, Honeycomb or Grafana) and,
 * when the backend needs an API key, the Secrets Manager secret holding the
 * headers to send. Off unless configured. X-Ray stays on for the workflow and
 * every handler either way (see ApprovalWorkflow and HandlerFunction).
 */
import { SecretValue, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { Binding } from './handler-function.js';

/** Placeholder content of a fresh headers secret: no headers, until the operator fills it in. */
export const OTLP_HEADERS_PLACEHOLDER = '{}';

/** Properties of a {@link TraceExport}. */
export interface TraceExportProps {
  /** OTLP/HTTP traces URL, e.g. `https://otlp.example.com/v1/traces`. */
  readonly endpoint: string;
  /**
   * Create a secret for the headers every export sends (JSON object of header
   * names to values, e.g. `{"x-honeycomb-team":"…"}`), filled in by the operator.
   * @default false
   */
  readonly headersSecret?: boolean;
  /**
   * Deadline of one export, retries included, in milliseconds.
   * @default 2000
   */
  readonly timeoutMs?: number;
}

/** The trace export settings and, when asked for, the headers secret. */
export class TraceExport extends Construct {
  /** The headers secret, when {@link TraceExportProps.headersSecret} is set. */
  public readonly headersSecret?: secretsmanager.Secret;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: TraceExportProps,
  ) {
    super(scope, id);
    if (props.headersSecret) {
      this.headersSecret = new secretsmanager.Secret(this, 'HeadersSecret', {
        description:
          'Countersign trace export headers: JSON object of header names to values (an OTLP backend API key); fill in after deploying',
        // Not a secret: an empty header set the operator replaces (nothing secret is in the template).
        secretStringValue: SecretValue.unsafePlainText(OTLP_HEADERS_PLACEHOLDER),
      });
      Validations.of(this.headersSecret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'The API key is issued by the observability backend and rotated there, which no rotation Lambda can do; the operator updates the secret when rotating it.',
      });
    }
  }

  /**
   * Binding for a handler that exports traces (Review, Record): `COUNTERSIGN_OTLP_ENDPOINT`,
   * `COUNTERSIGN_OTLP_TIMEOUT_MS` and, with a headers secret,
   * `COUNTERSIGN_OTLP_HEADERS_SECRET_ARN` plus read access to it only.
   */
  public exporter(): Binding {
    const secret = this.headersSecret;
    return {
      environment: {
        COUNTERSIGN_OTLP_ENDPOINT: this.props.endpoint,
        COUNTERSIGN_OTLP_TIMEOUT_MS: String(this.props.timeoutMs ?? 2000),
        ...(secret ? { COUNTERSIGN_OTLP_HEADERS_SECRET_ARN: secret.secretArn } : {}),
      },
      grant: (grantee: iam.IGrantable) => {
        secret?.grantRead(grantee);
      },
    };
  }
}
