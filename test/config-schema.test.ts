import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configJsonSchema, configJsonSchemaText, SCHEMA_FILE } from "../src/config/json-schema.js";
import { applyOverrides, parseConfig } from "../src/config/load.js";
import { CONFIG_KEYS, configShape, effectiveBuckets, resourceNames } from "../src/config/schema.js";
import { UserInputError } from "../src/errors.js";
import { REPO_ROOT } from "./harness/dcp.js";

/** Every setting of DCP's config.py (reference section 2) with its DCP default. */
const DCP_DEFAULTS = {
  APP_NAME: "DistributedCP",
  DOCKERHUB_TAG: "cellprofiler/distributed-cellprofiler:2.2.0_4.2.8",
  AWS_REGION: "us-east-1",
  AWS_PROFILE: "default",
  AWS_BUCKET: "your-bucket-name",
  ECS_CLUSTER: "default",
  CLUSTER_MACHINES: 3,
  TASKS_PER_MACHINE: 1,
  MACHINE_TYPE: ["m5.xlarge"],
  EBS_VOL_SIZE: 30,
  DOWNLOAD_FILES: false,
  ASSIGN_IP: true,
  DOCKER_CORES: 4,
  CPU_SHARES: 4096,
  MEMORY: 15000,
  SECONDS_TO_START: 180,
  LOG_GROUP_NAME: "DistributedCP",
  SQS_QUEUE_NAME: "DistributedCPQueue",
  SQS_MESSAGE_VISIBILITY: 60,
  SQS_DEAD_LETTER_QUEUE: "user_DeadMessages",
  JOB_RETRIES: 3,
  CREATE_DASHBOARD: true,
  CLEAN_DASHBOARD: true,
  CHECK_IF_DONE_BOOL: false,
  EXPECTED_NUMBER_FILES: 7,
  MIN_FILE_SIZE_BYTES: 1,
  NECESSARY_STRING: "",
  ALWAYS_CONTINUE: false,
  USE_PLUGINS: false,
  UPDATE_PLUGINS: false,
  PLUGINS_COMMIT: null,
  INSTALL_REQUIREMENTS: false,
  REQUIREMENTS: "",
  UPLOAD_FLAGS: null,
};

describe("config schema", () => {
  it("has every DCP setting with DCP's default (MACHINE_PRICE null on purpose)", () => {
    const config = parseConfig({}, "c.json");
    expect(config).toMatchObject(DCP_DEFAULTS);
    expect(config.MACHINE_PRICE).toBeNull();
    for (const key of [
      ...Object.keys(DCP_DEFAULTS),
      "MACHINE_PRICE",
      "SOURCE_BUCKET",
      "WORKSPACE_BUCKET",
      "DESTINATION_BUCKET",
      "SSH_KEY_NAME",
      "AUTO_MONITOR",
    ]) {
      expect(CONFIG_KEYS).toContain(key);
    }
  });

  it("accepts DCP's 'True'/'False' strings and real booleans, and refuses anything else", () => {
    const config = parseConfig(
      { DOWNLOAD_FILES: "True", ASSIGN_IP: "False", USE_PLUGINS: "true", CHECK_IF_DONE_BOOL: true },
      "c.json",
    );
    expect([config.DOWNLOAD_FILES, config.ASSIGN_IP, config.USE_PLUGINS, config.CHECK_IF_DONE_BOOL]).toEqual([
      true,
      false,
      true,
      true,
    ]);
    expect(() => parseConfig({ DOWNLOAD_FILES: "Ture" }, "c.json")).toThrow(
      /c\.json: DOWNLOAD_FILES: expected true or false.*Fix:/,
    );
    expect(() => parseConfig({ DOWNLOAD_FILES: 1 }, "c.json")).toThrow(UserInputError);
  });

  it("reads 'False' buckets as unset and applies DCP's fallbacks", () => {
    const config = parseConfig(
      {
        AWS_BUCKET: "lab-logs",
        SOURCE_BUCKET: "False",
        WORKSPACE_BUCKET: false,
        DESTINATION_BUCKET: null,
        UPLOAD_FLAGS: "False",
        PLUGINS_COMMIT: "False",
      },
      "c.json",
    );
    expect([
      config.SOURCE_BUCKET,
      config.WORKSPACE_BUCKET,
      config.DESTINATION_BUCKET,
      config.UPLOAD_FLAGS,
      config.PLUGINS_COMMIT,
    ]).toEqual([null, null, null, null, null]);
    expect(effectiveBuckets(config)).toEqual({ source: "lab-logs", workspace: "lab-logs", destination: "lab-logs" });
    const split = parseConfig(
      { AWS_BUCKET: "lab-logs", SOURCE_BUCKET: "lab-images", DESTINATION_BUCKET: "lab-results" },
      "c.json",
    );
    expect(effectiveBuckets(split)).toEqual({
      source: "lab-images",
      workspace: "lab-images",
      destination: "lab-results",
    });
    expect(() => parseConfig({ SOURCE_BUCKET: "s3://lab-images/plate1" }, "c.json")).toThrow(
      /SOURCE_BUCKET: expected an S3 bucket name/,
    );
  });

  it("takes the queue name out of an old-style SQS_DEAD_LETTER_QUEUE ARN", () => {
    const config = parseConfig({ SQS_DEAD_LETTER_QUEUE: "arn:aws:sqs:us-east-1:111111100000:DeadMessages" }, "c.json");
    expect(config.SQS_DEAD_LETTER_QUEUE).toBe("DeadMessages");
  });

  it("reads a single MACHINE_TYPE string as a one-item list", () => {
    expect(parseConfig({ MACHINE_TYPE: "c5.xlarge" }, "c.json").MACHINE_TYPE).toEqual(["c5.xlarge"]);
  });

  it("derives every resource name from APP_NAME, LOG_GROUP_NAME and the queue settings", () => {
    const config = parseConfig({ APP_NAME: "Plate1", LOG_GROUP_NAME: "plate1-logs", ECS_CLUSTER: "lab" }, "c.json");
    expect(resourceNames(config)).toMatchObject({
      queueName: "Plate1Queue",
      deadLetterQueueName: "user_DeadMessages",
      clusterName: "lab",
      taskFamily: "Plate1Task",
      serviceName: "Plate1Service",
      logGroup: "plate1-logs",
      perInstanceLogGroup: "plate1-logs_perInstance",
      stateFile: "files/Plate1SpotFleetRequestId.json",
    });
  });

  it("lets --region/--profile override the file, and checks them like the file's values", () => {
    const config = parseConfig({ AWS_REGION: "eu-west-1", AWS_PROFILE: "lab" }, "c.json");
    expect(applyOverrides(config, { region: "us-west-2" })).toMatchObject({
      AWS_REGION: "us-west-2",
      AWS_PROFILE: "lab",
    });
    expect(applyOverrides(config, { profile: "other" })).toMatchObject({
      AWS_REGION: "eu-west-1",
      AWS_PROFILE: "other",
    });
    expect(() => applyOverrides(config, { region: "Europe" })).toThrow(/command line: --region: expected a region/);
  });
});

describe("config/config.schema.json", () => {
  it("is up to date with the zod schema (regenerate: node bin/dcp config schema -o config/config.schema.json)", () => {
    const committed = readFileSync(join(REPO_ROOT, SCHEMA_FILE), "utf8");
    expect(
      committed,
      "config/config.schema.json is out of date: run `node bin/dcp config schema -o config/config.schema.json`",
    ).toBe(configJsonSchemaText());
  });

  it("describes every DCP key, lists defaults, and refuses unknown keys", () => {
    const schema = configJsonSchema() as {
      properties: Record<string, { description?: string; default?: unknown }>;
      additionalProperties: unknown;
    };
    for (const key of [
      ...Object.keys(DCP_DEFAULTS),
      "MACHINE_PRICE",
      "SOURCE_BUCKET",
      "WORKSPACE_BUCKET",
      "DESTINATION_BUCKET",
      "FLEET_API",
      "TASK_ROLE_ARN",
    ]) {
      expect(schema.properties[key]?.description, key).toMatch(/\w{3,}/);
    }
    expect(schema.properties.DOWNLOAD_FILES?.default).toBe(false);
    expect(schema.properties.MACHINE_TYPE?.default).toEqual(["m5.xlarge"]);
    expect(schema.properties.MACHINE_PRICE?.default).toBeNull();
    expect(Object.keys(schema.properties).sort()).toEqual(Object.keys(configShape).sort());
    expect(schema.additionalProperties).toBe(false);
  });

  it("is what config/config.example.json refers to, and the example is a valid config", () => {
    const example = JSON.parse(readFileSync(join(REPO_ROOT, "config/config.example.json"), "utf8")) as Record<
      string,
      unknown
    >;
    expect(example.$schema).toBe("./config.schema.json");
    expect(() => parseConfig(example, "config/config.example.json")).not.toThrow();
  });
});
