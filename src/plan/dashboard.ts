/**
 * The run's CloudWatch dashboard (DCP's CREATE_DASHBOARD, reference 1.3 step 9): queue depth and
 * throughput, cluster memory, fleet capacity, and the job logs. Unlike DCP it uses the configured
 * queue and log group names (DCP hard-coded <APP_NAME>Queue and the APP_NAME log group). Pure.
 */

export interface DashboardInput {
  region: string;
  cluster: string;
  queueName: string;
  deadLetterQueueName: string;
  logGroup: string;
  /** The fleet provider's capacity metrics, when its API publishes any (else worker CPU is shown). */
  fleetCapacityMetrics: unknown[][] | undefined;
}

interface Widget {
  type: "metric" | "log";
  x: number;
  y: number;
  width: number;
  height: number;
  properties: Record<string, unknown>;
}

function metric(
  x: number,
  y: number,
  title: string,
  metrics: unknown[][],
  region: string,
  extra: Record<string, unknown> = {},
): Widget {
  return {
    type: "metric",
    x,
    y,
    width: 6,
    height: 6,
    properties: { title, metrics, region, period: 300, view: "timeSeries", ...extra },
  };
}

function logs(
  x: number,
  y: number,
  width: number,
  title: string,
  query: string,
  logGroup: string,
  region: string,
): Widget {
  return {
    type: "log",
    x,
    y,
    width,
    height: 6,
    properties: { title, region, view: "table", query: `SOURCE '${logGroup}' | ${query}` },
  };
}

export function dashboardBody(input: DashboardInput): string {
  const { region, cluster, queueName, deadLetterQueueName, logGroup } = input;
  const widgets: Widget[] = [
    input.fleetCapacityMetrics
      ? metric(0, 0, "Fleet capacity", input.fleetCapacityMetrics, region, { stat: "Average" })
      : metric(
          0,
          0,
          "Worker CPU (max)",
          [["AWS/ECS", "CPUUtilization", "ClusterName", cluster, { stat: "Maximum" }]],
          region,
        ),
    metric(6, 0, "Cluster memory", [["AWS/ECS", "MemoryUtilization", "ClusterName", cluster]], region, {
      stat: "Average",
      yAxis: { left: { min: 0 } },
    }),
    metric(
      12,
      0,
      "Queue",
      [
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queueName],
        [".", "ApproximateNumberOfMessagesNotVisible", ".", "."],
        [".", "ApproximateNumberOfMessagesVisible", ".", deadLetterQueueName, { label: "dead-lettered" }],
      ],
      region,
      { stat: "Average", stacked: true },
    ),
    metric(
      18,
      0,
      "Jobs received / done",
      [
        ["AWS/SQS", "NumberOfMessagesReceived", "QueueName", queueName],
        [".", "NumberOfMessagesDeleted", ".", "."],
      ],
      region,
      { stat: "Sum" },
    ),
    logs(
      0,
      6,
      12,
      'All logs "cellprofiler -c"',
      "fields @message | filter @message like 'cellprofiler -c' | stats count(@message)",
      logGroup,
      region,
    ),
    logs(
      12,
      6,
      12,
      'Distinct logs "cellprofiler -c"',
      "fields @message | filter @message like 'cellprofiler -c' | stats count_distinct(@message)",
      logGroup,
      region,
    ),
    logs(
      0,
      12,
      24,
      "Errors",
      'fields @timestamp, @message | filter @message like "Error" | display @timestamp, @message',
      logGroup,
      region,
    ),
  ];
  return JSON.stringify({ widgets });
}
