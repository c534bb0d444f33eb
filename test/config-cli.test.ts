/** `dcp config import | show | validate | schema` as a user runs them (the built CLI, no AWS call). */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT, runDcp, tempDir } from "./harness/dcp.js";

const FIXTURES = join(REPO_ROOT, "test/fixtures/config");
const DEFAULT_PY = join(FIXTURES, "dcp-default.config.py");

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
}

describe("dcp config import", () => {
  it("converts DCP's default config.py to the expected config, which passes validation", async () => {
    const dir = tempDir();
    const result = await runDcp(["config", "import", DEFAULT_PY], { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    const written = join(dir, "config/config.json");
    const { $schema, ...settings } = readJson(written);
    expect(settings).toEqual(readJson(join(FIXTURES, "dcp-default.expected.json")));
    // The editor finds the shipped JSON Schema through "$schema".
    const schemaPath = String($schema).startsWith("file://")
      ? new URL(String($schema)).pathname
      : resolve(dirname(written), String($schema));
    expect(schemaPath).toBe(join(REPO_ROOT, "config/config.schema.json"));
    expect(result.stdout).toMatch(/note: MACHINE_PRICE 0\.2 is kept as a maximum spot price/);
    expect(result.stdout).toMatch(/wrote config\/config\.json: 40 settings/);

    const validate = await runDcp(["config", "validate"], { cwd: dir });
    expect(validate.code, validate.stderr).toBe(0);
    expect(validate.stdout).toMatch(
      /config\/config\.json: valid \(APP_NAME DistributedCP, region us-east-1, queue DistributedCPQueue/,
    );
  });

  it("refuses to overwrite an existing file without --force, and replaces it with --force", async () => {
    const dir = tempDir();
    const out = join(dir, "plate1.json");
    writeFileSync(out, "{}\n");
    const refused = await runDcp(["config", "import", DEFAULT_PY, "-o", out]);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim()).toBe(
      `dcp: ${out}: already exists; nothing was written. Fix: pass --force to replace it, or -o another path`,
    );
    expect(readFileSync(out, "utf8")).toBe("{}\n");
    const forced = await runDcp(["config", "import", DEFAULT_PY, "-o", out, "--force", "--json"]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({
      output: out,
      settings: { APP_NAME: "DistributedCP", CPU_SHARES: 4096 },
    });
    expect(readJson(out).SQS_QUEUE_NAME).toBe("DistributedCPQueue");
  });

  it("reports every line it cannot convert in one message and writes nothing", async () => {
    const dir = tempDir();
    const py = join(dir, "config.py");
    writeFileSync(
      py,
      [
        "import os",
        "APP_NAME = 'Plate1'",
        "AWS_PROFILE = os.environ.get('AWS_PROFILE', 'default')",
        "SQS_QUEUE_NAME = f'{APP_NAME}Queue'",
        "CLUSTER_MACHINES = 3 if APP_NAME else 1",
        "MEMORY = UNKNOWN_SIZE * 2",
        "SQS_MESAGE_VISIBILITY = 5*60",
      ].join("\n"),
    );
    const result = await runDcp(["config", "import", py], { cwd: dir });
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `^dcp: ${py}: 5 lines cannot be converted \\(line 3: AWS_PROFILE: attribute access \\(os\\.environ\\).*; line 4: SQS_QUEUE_NAME: f-strings.*; line 5: CLUSTER_MACHINES: conditional.*; line 6: MEMORY: unknown name UNKNOWN_SIZE.*; line 7: SQS_MESAGE_VISIBILITY is not a dcp setting; did you mean SQS_MESSAGE_VISIBILITY\\?\\)\\. Fix: .*nothing was written$`,
      ),
    );
    expect(existsSync(join(dir, "config"))).toBe(false);
  });

  it("keeps settings dcp knows, maps REQUIREMENTS_FILE, leaves out helper names, and checks values against the schema", async () => {
    const dir = tempDir();
    const py = join(dir, "config.py");
    writeFileSync(
      py,
      "PROJECT = 'cpg0016'\nAPP_NAME = PROJECT + '_Illum'\nREQUIREMENTS_FILE = 'requirements.txt'\nSSH_KEY_NAME = 'lab.pem'\nMACHINE_TYPE = 'c5.xlarge'\nSQS_DEAD_LETTER_QUEUE = 'arn:aws:sqs:us-east-1:111111100000:DeadMessages'\n",
    );
    const ok = await runDcp(["config", "import", py, "-o", join(dir, "ok.json")]);
    expect(ok.code, ok.stderr).toBe(0);
    const { $schema: _schema, ...settings } = readJson(join(dir, "ok.json"));
    expect(settings).toEqual({
      APP_NAME: "cpg0016_Illum",
      SSH_KEY_NAME: "lab.pem",
      MACHINE_TYPE: ["c5.xlarge"],
      SQS_DEAD_LETTER_QUEUE: "DeadMessages",
      REQUIREMENTS: "requirements.txt",
      JOB_RETRIES: 10,
      CREATE_DASHBOARD: false,
      CLEAN_DASHBOARD: false,
    });
    expect(ok.stdout).toMatch(/line 1: PROJECT is not a dcp setting \(used only to build other values\); left out/);
    expect(ok.stdout).toMatch(/line 3: REQUIREMENTS_FILE \(deprecated\) becomes REQUIREMENTS/);
    expect(ok.stdout).toMatch(/JOB_RETRIES is not set: 10, DCP's default for a config\.py without it/);

    writeFileSync(py, "APP_NAME = 'Plate1'\n\nEBS_VOL_SIZE = 10\n");
    const bad = await runDcp(["config", "import", py, "-o", join(dir, "bad.json")]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe(
      `dcp: ${py}: line 3: EBS_VOL_SIZE: must be at least 22 (GB). Fix: set it to at least 22 (GB)`,
    );
    expect(existsSync(join(dir, "bad.json"))).toBe(false);

    writeFileSync(py, "APP_NAME = 'P'\nSQS_QUEUE_NAME = APP_NAME + 'Queue'\nSQS_DEAD_LETTER_QUEUE = SQS_QUEUE_NAME\n");
    const same = await runDcp(["config", "import", py, "-o", join(dir, "bad.json")]);
    expect(same.code).toBe(2);
    expect(same.stderr).toMatch(
      /: line 3: SQS_DEAD_LETTER_QUEUE: is the same queue as SQS_QUEUE_NAME \(PQueue\)\. Fix:/,
    );
    expect(existsSync(join(dir, "bad.json"))).toBe(false);
  });

  it("says which file is missing", async () => {
    const result = await runDcp(["config", "import", "/nonexistent/config.py"], { cwd: tempDir() });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/\/nonexistent\/config\.py: file not found\. Fix:/);
  });
});

describe("dcp config show / validate", () => {
  it("shows the resolved config with defaults, flags and every derived name", async () => {
    const dir = tempDir();
    const path = join(dir, "c.json");
    writeFileSync(
      path,
      JSON.stringify({
        APP_NAME: "Plate1",
        AWS_BUCKET: "lab-bucket",
        DESTINATION_BUCKET: "lab-results",
        SOURCE_BUCKET: "False",
      }),
    );
    const json = await runDcp(["--config", path, "--region", "eu-west-1", "config", "show", "--json"]);
    expect(json.code, json.stderr).toBe(0);
    const shown = JSON.parse(json.stdout);
    expect(shown.names).toEqual({
      queueName: "Plate1Queue",
      deadLetterQueueName: "user_DeadMessages",
      clusterName: "default",
      taskFamily: "Plate1Task",
      serviceName: "Plate1Service",
      containerName: "Plate1",
      logGroup: "Plate1",
      perInstanceLogGroup: "Plate1_perInstance",
      stateFile: "files/Plate1SpotFleetRequestId.json",
      alarmPrefix: "Plate1_",
      fleet: "Plate1Fleet",
      worker: "Plate1Worker",
      launchTemplate: "Plate1_LaunchTemplate",
    });
    expect(shown.buckets).toEqual({ source: "lab-bucket", workspace: "lab-bucket", destination: "lab-results" });
    expect(shown.source).toMatchObject({ APP_NAME: "file", AWS_REGION: "flag", MACHINE_TYPE: "default" });
    expect(shown.config).toMatchObject({ AWS_REGION: "eu-west-1", CPU_SHARES: 4096, SOURCE_BUCKET: null });

    const text = await runDcp(["--config", path, "config", "show"]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^ {2}APP_NAME +Plate1$/m);
    expect(text.stdout).toMatch(/^ {2}MACHINE_TYPE +\["m5\.xlarge"\] {2}\(default\)$/m);
    expect(text.stdout).toMatch(/^ {2}job queue +Plate1Queue$/m);
    expect(text.stdout).toMatch(/^ {2}log group \(containers\) +Plate1_perInstance$/m);
  });

  it("validate takes a path, exits 0 on a valid file and 2 on a missing one", async () => {
    const ok = await runDcp(["config", "validate", join(REPO_ROOT, "config/config.example.json"), "--json"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ valid: true, APP_NAME: "MyProject_Analysis" });
    const missing = await runDcp(["config", "validate"], { cwd: tempDir() });
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toMatch(
      /^dcp: config\/config\.json: config file not found\. Fix: create it .*dcp config import/,
    );
  });

  it("schema prints the committed JSON Schema", async () => {
    const result = await runDcp(["config", "schema"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(readFileSync(join(REPO_ROOT, "config/config.schema.json"), "utf8"));
  });

  it("every config subcommand has --help with examples", async () => {
    for (const sub of ["import", "show", "validate", "schema"]) {
      const result = await runDcp(["config", sub, "--help"]);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/Examples:\n {2}\$ dcp /);
    }
  });
});
