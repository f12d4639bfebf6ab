/**
 * Publishes metric points through Powertools for AWS Lambda (CloudWatch
 * embedded metric format on stdout): each point is one single-metric EMF
 * document in the `Countersign` namespace with `service=countersign` and its
 * own dimension, so one point never changes another's dimension set.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE, METRICS_SERVICE, type MetricPoint, type MetricSink } from './metrics.js';

const UNIT = { Count: MetricUnit.Count, Seconds: MetricUnit.Seconds } as const;

/** A sink that publishes every point it is given at once. */
export function powertoolsSink(
  metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE }),
): MetricSink {
  return (points: readonly MetricPoint[]) => {
    for (const point of points) {
      const single = metrics.singleMetric();
      if (point.dimension) single.addDimension(point.dimension.name, point.dimension.value);
      single.addMetric(point.name, UNIT[point.unit], point.value);
    }
  };
}

/**
 * Publishes points, never failing the caller: metrics are for operators, and
 * a handler's work (a decision, an archived record) must not be undone or
 * retried because a metric could not be built.
 */
export function publishSafely(
  sink: MetricSink,
  build: () => readonly MetricPoint[],
  warn: (message: string, extra: Record<string, unknown>) => void,
): void {
  try {
    sink(build());
  } catch (error) {
    warn('metrics not published', { error: String(error) });
  }
}
