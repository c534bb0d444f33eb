import { describe, expect, it } from "vitest";
import { parseConfig } from "../src/config/load.js";
import { DEAD_LETTER_QUEUE_ATTRIBUTES, diffQueueAttributes, jobQueueAttributes } from "../src/plan/queue-attributes.js";
import {
  diffTaskDefinition,
  STOP_TIMEOUT_SECONDS,
  taskDefinitionSpec,
  type ExistingTaskDefinition,
} from "../src/plan/task-definition.js";
import { appTags } from "../src/plan/names.js";
import { missingTags } from "../src/plan/reconcile.js";
import { configInputFromEnv } from "../src/worker/settings.js";
import { CREDENTIAL_NAME, WORKER_ENV_KEYS, workerEnvironment } from "../src/plan/worker-env.js";

const DLQ_ARN = "arn:aws:sqs:us-east-1:123456789012:MyApp_Dead";
const QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/MyAppQueue";

function config(extra: Record<string, unknown> = {}) {
  return parseConfig(
    { APP_NAME: "MyApp", ECS_CLUSTER: "lab", AWS_BUCKET: "lab-bucket", SOURCE_BUCKET: "lab-images", ...extra },
    "config.json",
  );
}

const envMap = (vars: { name: string; value: string }[]) => Object.fromEntries(vars.map((v) => [v.name, v.value]));

describe("queue attributes", () => {
  it("gives the job queue the configured visibility, 14-day retention, 256 KiB messages and a redrive to the DLQ", () => {
    const attributes = jobQueueAttributes(config({ SQS_MESSAGE_VISIBILITY: 900, JOB_RETRIES: 5 }), DLQ_ARN);
    expect(attributes).toMatchObject({
      VisibilityTimeout: "900",
      MessageRetentionPeriod: "1209600",
      MaximumMessageSize: "262144",
    });
    expect(JSON.parse(attributes.RedrivePolicy!)).toEqual({ deadLetterTargetArn: DLQ_ARN, maxReceiveCount: 5 });
    expect(DEAD_LETTER_QUEUE_ATTRIBUTES).toEqual({ MessageRetentionPeriod: "1209600" });
  });

  it("finds nothing to change when SQS echoes the same policy, even with DCP's string maxReceiveCount", () => {
    const desired = jobQueueAttributes(config({ JOB_RETRIES: 3 }), DLQ_ARN);
    const current = {
      ...desired,
      QueueArn: "arn:x",
      ApproximateNumberOfMessages: "12",
      RedrivePolicy: `{"maxReceiveCount":"3","deadLetterTargetArn":"${DLQ_ARN}"}`,
    };
    expect(diffQueueAttributes(current, desired)).toEqual({ update: {}, changes: [] });
  });

  it("lists each difference and only the attributes to set", () => {
    const current = {
      ...jobQueueAttributes(config({ SQS_MESSAGE_VISIBILITY: 60, JOB_RETRIES: 3 }), DLQ_ARN),
      MessageRetentionPeriod: "345600",
    };
    const desired = jobQueueAttributes(config({ SQS_MESSAGE_VISIBILITY: 120, JOB_RETRIES: 7 }), DLQ_ARN);
    const diff = diffQueueAttributes(current, desired);
    expect(diff.changes).toEqual([
      "MessageRetentionPeriod 345600 -> 1209600",
      "VisibilityTimeout 60 -> 120",
      "maxReceiveCount 3 -> 7",
    ]);
    expect(Object.keys(diff.update).sort()).toEqual(["MessageRetentionPeriod", "RedrivePolicy", "VisibilityTimeout"]);
  });

  it("adds a redrive policy to a queue that has none, and follows a new DLQ", () => {
    const desired = jobQueueAttributes(config(), DLQ_ARN);
    const { RedrivePolicy: _none, ...withoutRedrive } = desired;
    expect(diffQueueAttributes(withoutRedrive, desired).changes).toEqual([
      `RedrivePolicy none -> maxReceiveCount 3 to ${DLQ_ARN}`,
    ]);
    const elsewhere = {
      ...desired,
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: "arn:aws:sqs:us-east-1:123456789012:Old",
        maxReceiveCount: 3,
      }),
    };
    expect(diffQueueAttributes(elsewhere, desired).changes).toEqual([
      `deadLetterTargetArn arn:aws:sqs:us-east-1:123456789012:Old -> ${DLQ_ARN}`,
    ]);
  });
});

describe("worker environment", () => {
  it("lists every variable the original worker reads, in DCP's order and formats, then dcp's own", () => {
    const env = workerEnvironment(
      config({
        CHECK_IF_DONE_BOOL: "True",
        DOCKER_CORES: 2,
        WORKSPACE_BUCKET: "lab-work",
        UPLOAD_FLAGS: "--acl bucket-owner-full-control",
      }),
      QUEUE_URL,
    );
    const names = env.map((e) => e.name);
    const dcpOrder = [
      "AWS_REGION",
      "APP_NAME",
      "SQS_QUEUE_URL",
      "AWS_BUCKET",
      "DOCKER_CORES",
      "LOG_GROUP_NAME",
      "CHECK_IF_DONE_BOOL",
      "EXPECTED_NUMBER_FILES",
      "ECS_CLUSTER",
      "SECONDS_TO_START",
      "MIN_FILE_SIZE_BYTES",
      "USE_PLUGINS",
      "NECESSARY_STRING",
      "DOWNLOAD_FILES",
      "ALWAYS_CONTINUE",
      "SOURCE_BUCKET",
      "DESTINATION_BUCKET",
      "WORKSPACE_BUCKET",
      "UPLOAD_FLAGS",
    ];
    expect(names.slice(0, dcpOrder.length)).toEqual(dcpOrder);
    expect(names).toEqual(
      expect.arrayContaining(["SQS_QUEUE_NAME", "SQS_MESSAGE_VISIBILITY", "JOB_RETRIES", ...WORKER_ENV_KEYS]),
    );
    expect(new Set(names).size).toBe(names.length);
    expect(envMap(env)).toMatchObject({
      AWS_REGION: "us-east-1",
      APP_NAME: "MyApp",
      SQS_QUEUE_URL: QUEUE_URL,
      DOCKER_CORES: "2",
      LOG_GROUP_NAME: "MyApp",
      CHECK_IF_DONE_BOOL: "True",
      DOWNLOAD_FILES: "False",
      USE_PLUGINS: "False",
      EXPECTED_NUMBER_FILES: "7",
      SECONDS_TO_START: "180",
      NECESSARY_STRING: "",
      SOURCE_BUCKET: "lab-images",
      DESTINATION_BUCKET: "lab-bucket",
      WORKSPACE_BUCKET: "lab-work",
      UPLOAD_FLAGS: "--acl bucket-owner-full-control",
      SQS_QUEUE_NAME: "MyAppQueue",
      SQS_MESSAGE_VISIBILITY: "60",
      JOB_RETRIES: "3",
    });
    expect(names).not.toContain("UPDATE_PLUGINS");
  });

  it("reads back, through the worker's own parser, as the same settings", () => {
    const source = config({
      USE_PLUGINS: true,
      PLUGINS_COMMIT: "v1.2",
      CHECK_IF_DONE_BOOL: true,
      SPOT_NOTICE_URL: null,
      WORKER_IDLE_POLLS: 7,
      UPLOAD_FLAGS: "--acl bucket-owner-full-control",
    });
    const env = envMap(workerEnvironment(source, QUEUE_URL));
    const read = parseConfig(configInputFromEnv(env), "environment");
    const keys = [
      ...WORKER_ENV_KEYS,
      "APP_NAME",
      "AWS_REGION",
      "AWS_BUCKET",
      "DOCKER_CORES",
      "LOG_GROUP_NAME",
      "CHECK_IF_DONE_BOOL",
      "EXPECTED_NUMBER_FILES",
      "ECS_CLUSTER",
      "SECONDS_TO_START",
      "MIN_FILE_SIZE_BYTES",
      "USE_PLUGINS",
      "NECESSARY_STRING",
      "DOWNLOAD_FILES",
      "ALWAYS_CONTINUE",
      "SOURCE_BUCKET",
      "UPLOAD_FLAGS",
      "UPDATE_PLUGINS",
      "PLUGINS_COMMIT",
      "INSTALL_REQUIREMENTS",
      "REQUIREMENTS",
    ] as const;
    for (const key of keys) expect([key, read[key]]).toEqual([key, source[key]]);
    expect(read.SPOT_NOTICE_URL).toBeNull();
  });

  it("adds the plugin variables only with USE_PLUGINS, with DCP's 'False' for an unset commit", () => {
    const env = envMap(
      workerEnvironment(config({ USE_PLUGINS: true, UPDATE_PLUGINS: "True", REQUIREMENTS: "-r req.txt" }), QUEUE_URL),
    );
    expect(env).toMatchObject({
      USE_PLUGINS: "True",
      UPDATE_PLUGINS: "True",
      PLUGINS_COMMIT: "False",
      INSTALL_REQUIREMENTS: "False",
      REQUIREMENTS: "-r req.txt",
    });
  });

  it("passes unset buckets with DCP's fallbacks applied, and leaves unset upload flags out", () => {
    const env = envMap(
      workerEnvironment(
        config({ SOURCE_BUCKET: "False", WORKSPACE_BUCKET: null, DESTINATION_BUCKET: "", UPLOAD_FLAGS: "False" }),
        QUEUE_URL,
      ),
    );
    expect(env).toMatchObject({
      AWS_BUCKET: "lab-bucket",
      SOURCE_BUCKET: "lab-bucket",
      WORKSPACE_BUCKET: "lab-bucket",
      DESTINATION_BUCKET: "lab-bucket",
    });
    expect(env).not.toHaveProperty("UPLOAD_FLAGS");
    const workspaceFromSource = envMap(workerEnvironment(config({ WORKSPACE_BUCKET: null }), QUEUE_URL));
    expect(workspaceFromSource).toMatchObject({
      SOURCE_BUCKET: "lab-images",
      WORKSPACE_BUCKET: "lab-images",
      DESTINATION_BUCKET: "lab-bucket",
    });
  });

  it("never carries a credential, even when the caller's environment holds access keys", () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: "TESTKEYEXAMPLE123456",
      AWS_SECRET_ACCESS_KEY: "s3cr3t/value",
      AWS_SESSION_TOKEN: "tok3n-value",
    });
    try {
      const env = workerEnvironment(config({ TASK_ROLE_ARN: "arn:aws:iam::123456789012:role/dcpWorker" }), QUEUE_URL);
      // No DCP or dcp variable is named like a credential, so the rule needs no exceptions.
      expect(env.filter((e) => CREDENTIAL_NAME.test(e.name))).toEqual([]);
      const text = JSON.stringify(env);
      for (const secret of [
        "TESTKEYEXAMPLE123456",
        "s3cr3t/value",
        "tok3n-value",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
      ]) {
        expect(text).not.toContain(secret);
      }
      expect(WORKER_ENV_KEYS.filter((k) => CREDENTIAL_NAME.test(k))).toEqual([]);
    } finally {
      process.env = saved;
    }
  });

  it("refuses a worker key that looks like a credential", () => {
    WORKER_ENV_KEYS.push("SSH_KEY_NAME");
    try {
      expect(() => workerEnvironment(config({ SSH_KEY_NAME: "lab" }), QUEUE_URL)).toThrow(
        /SSH_KEY_NAME looks like a credential/,
      );
    } finally {
      WORKER_ENV_KEYS.pop();
    }
  });
});

describe("task definition", () => {
  const spec = taskDefinitionSpec(config({ DOCKER_CORES: 2, MEMORY: 7000, DOCKERHUB_TAG: "me/worker:1" }), QUEUE_URL);

  it("describes DCP's container: image, cpu, memory, privileged, awslogs to the _perInstance group, plus a stop timeout", () => {
    expect(spec.family).toBe("MyAppTask");
    expect(spec).not.toHaveProperty("taskRoleArn");
    expect(spec.tags).toEqual([{ key: "dcp:app", value: "MyApp" }]);
    const [container] = spec.containerDefinitions;
    expect(container).toMatchObject({
      name: "MyApp",
      image: "me/worker:1",
      cpu: 2048,
      memory: 7000,
      essential: true,
      privileged: true,
      stopTimeout: STOP_TIMEOUT_SECONDS,
    });
    expect(container!.logConfiguration).toEqual({
      logDriver: "awslogs",
      options: {
        "awslogs-group": "MyApp_perInstance",
        "awslogs-region": "us-east-1",
        "awslogs-stream-prefix": "MyApp",
      },
    });
    expect(
      taskDefinitionSpec(config({ TASK_ROLE_ARN: "arn:aws:iam::123456789012:role/w" }), QUEUE_URL).taskRoleArn,
    ).toBe("arn:aws:iam::123456789012:role/w");
  });

  /** What ECS returns for a registered spec: the same fields plus its own defaults. */
  function described(): ExistingTaskDefinition & Record<string, unknown> {
    const container = spec.containerDefinitions[0]!;
    const ecsDefaults = { portMappings: [], mountPoints: [], volumesFrom: [] };
    return {
      revision: 4,
      status: "ACTIVE",
      networkMode: "bridge",
      containerDefinitions: [{ ...container, environment: [...container.environment].reverse(), ...ecsDefaults }],
    };
  }

  it("finds nothing to change in a revision registered from the same spec (ECS defaults and env order ignored)", () => {
    expect(diffTaskDefinition(spec, described())).toEqual([]);
  });

  it("compares the log driver and its options only", () => {
    const existing = described();
    const container = existing.containerDefinitions![0]!;
    container.logConfiguration = { ...container.logConfiguration!, ...{ secretOptions: [] } };
    expect(diffTaskDefinition(spec, existing)).toEqual([]);
    container.logConfiguration = {
      logDriver: "awslogs",
      options: { ...container.logConfiguration.options, "awslogs-group": "Elsewhere" },
    };
    expect(diffTaskDefinition(spec, existing)).toEqual(["logConfiguration"]);
  });

  it("leaves empty variables out, as ECS drops them, and does not count them as differences", () => {
    const names = spec.containerDefinitions[0]!.environment.map((e) => e.name);
    expect(names).not.toContain("NECESSARY_STRING");
    expect(names).toContain("DOWNLOAD_FILES");
    const withEmpty = {
      ...spec,
      containerDefinitions: [
        {
          ...spec.containerDefinitions[0]!,
          environment: [...spec.containerDefinitions[0]!.environment, { name: "NECESSARY_STRING", value: "" }],
        },
      ],
    };
    expect(diffTaskDefinition(withEmpty, described())).toEqual([]);
  });

  it("names what changed, and never prints environment values", () => {
    const existing = described();
    const container = existing.containerDefinitions![0]!;
    container.image = "me/worker:0";
    container.stopTimeout = undefined;
    container.environment = [
      ...(container.environment ?? []).map((e) => (e.name === "JOB_RETRIES" ? { ...e, value: "9" } : e)),
      { name: "AWS_SECRET_ACCESS_KEY", value: "old-plaintext-secret" },
    ];
    const changes = diffTaskDefinition(spec, existing);
    expect(changes).toEqual([
      "image me/worker:0 -> me/worker:1",
      "stopTimeout unset -> 120",
      "environment: changed JOB_RETRIES; removed AWS_SECRET_ACCESS_KEY",
    ]);
    expect(changes.join(" ")).not.toContain("old-plaintext-secret");
    expect(diffTaskDefinition({ ...spec, taskRoleArn: "arn:aws:iam::123456789012:role/w" }, described())).toEqual([
      "taskRoleArn none -> arn:aws:iam::123456789012:role/w",
    ]);
    expect(diffTaskDefinition(spec, undefined)).toEqual(["no active revision"]);
  });
});

describe("tags", () => {
  it("adds only the keys a resource lacks, never overwriting another app's dcp:app", () => {
    expect(appTags("MyApp")).toEqual({ "dcp:app": "MyApp" });
    expect(missingTags({}, appTags("MyApp"))).toEqual({ "dcp:app": "MyApp" });
    expect(missingTags({ "dcp:app": "MyApp", team: "x" }, appTags("MyApp"))).toEqual({});
    expect(missingTags({ "dcp:app": "OtherApp" }, appTags("MyApp"))).toEqual({});
  });
});
