/**
 * `dcp submit` as a user runs it (the built CLI, a child process) against fauxqs: a 1,000-group
 * DCP job file leaves exactly 1,000 DCP messages; every malformed job file exits 2 with one
 * message naming the file, the field and the fix, and sends nothing; a missing queue exits 1
 * pointing at `dcp setup`; --dry-run calls no AWS at all.
 */
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { beforeAll, describe, expect, it } from "vitest";
import { messageBody, messageSchema, parseMetadataString } from "../src/plan/message.js";
import { REPO_ROOT, emulatorEnv, runDcp, tempDir, uniqueAppName } from "./harness/dcp.js";

const BAD_DIR = join(REPO_ROOT, "test/fixtures/jobs/bad");

/** Each malformed fixture and the field its one error line must name (undefined: the whole file). */
const BAD_FIXTURES: Record<string, { field?: string; problem: RegExp }> = {
  "syntax-trailing-comma.json": { problem: /not valid JSON at line 8, column 3/ },
  "two-documents.json": { problem: /not valid JSON at line 8, column 1/ },
  "empty-file.json": { problem: /is empty/ },
  "top-level-list.json": { problem: /must be a JSON object/ },
  "missing-pipeline.json": { field: "pipeline", problem: /is missing/ },
  "empty-pipeline.json": { field: "pipeline", problem: /is empty/ },
  "misspelled-key.json": { field: "data_fiel", problem: /unknown key.*did you mean "data_file"/ },
  "shared-not-string.json": { field: "input", problem: /expected string/ },
  "duplicate-shared-key.json": { field: "pipeline", problem: /appears twice/ },
  "groups-missing.json": { field: "groups", problem: /is missing/ },
  "groups-not-list.json": { field: "groups", problem: /expected a list/ },
  "groups-empty.json": { field: "groups", problem: /is empty/ },
  "group-not-object.json": { field: "groups[1]", problem: /expected an object/ },
  "group-empty-object.json": { field: "groups[1]", problem: /is empty/ },
  "metadata-with-space.json": { field: "groups[2].Metadata", problem: /contains a space/ },
  "metadata-without-equals.json": { field: "groups[1].Metadata", problem: /has no "="/ },
  "metadata-number.json": { field: "groups[0].Metadata", problem: /expected string/ },
  "duplicate-groups.json": { field: "groups[3]", problem: /same job as groups\[1\]/ },
  "dict-without-output-structure.json": { field: "groups[1]", problem: /needs an output_structure/ },
  "shared-keys-after-groups-dict.json": { field: "groups[0]", problem: /needs an output_structure/ },
  "dict-number-value.json": { field: "groups[1].Metadata_Site", problem: /expected a string.*Fix: quote it: "2"/ },
  "dict-group-with-shared-key.json": { field: "groups[0].data_file", problem: /is a shared key/ },
  "group-unknown-key.json": { field: "groups[0].data_flie", problem: /did you mean "data_file"/ },
  "group-lacks-data-file.json": { field: "groups[1]", problem: /has no "data_file"/ },
};

function writeConfig(dir: string, appName: string): string {
  mkdirSync(join(dir, "config"), { recursive: true });
  const file = join(dir, "config/config.json");
  writeFileSync(file, JSON.stringify({ APP_NAME: appName, AWS_REGION: "us-east-1" }));
  return file;
}

describe("dcp submit", () => {
  const sqs = () =>
    new SQSClient({ region: "us-east-1", endpoint: emulatorEnv().AWS_ENDPOINT_URL_SQS, useQueueUrlAsEndpoint: false });
  let dir: string;
  let badQueueUrl: string;
  const badApp = uniqueAppName("SubBad");

  async function createQueues(appName: string): Promise<string> {
    const client = sqs();
    const dlq = await client.send(new CreateQueueCommand({ QueueName: `${appName}_Dead` }));
    const arn = (
      await client.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ["QueueArn"] }))
    ).Attributes!.QueueArn!;
    const { QueueUrl } = await client.send(
      new CreateQueueCommand({
        QueueName: `${appName}Queue`,
        Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: "3" }) },
      }),
    );
    return QueueUrl!;
  }

  async function depth(url: string): Promise<number> {
    const { Attributes = {} } = await sqs().send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    );
    return Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible);
  }

  beforeAll(async () => {
    dir = tempDir("dcp-submit-");
    writeConfig(dir, badApp);
    badQueueUrl = await createQueues(badApp);
  });

  it("sends a 1,000-group DCP job file (string and dict groups) as exactly 1,000 DCP messages", async () => {
    const app = uniqueAppName("Sub");
    const work = tempDir("dcp-submit-1k-");
    writeConfig(work, app);
    const url = await createQueues(app);
    const groups: unknown[] = [];
    const expected = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const plate = `P${i % 4}`;
      const well = `W${String(Math.floor(i / 4)).padStart(3, "0")}`;
      expected.add(`Metadata_Plate=${plate},Metadata_Well=${well}`);
      if (i % 5 === 0) groups.push({ Metadata_Plate: plate, Metadata_Well: well, _comment: "print-groups style" });
      else if (i % 50 === 1)
        groups.push({
          Metadata: `Metadata_Plate=${plate},Metadata_Well=${well}`,
          data_file: `projects/${plate}/load_data.csv`,
        });
      else groups.push({ Metadata: `Metadata_Plate=${plate},Metadata_Well=${well}` });
    }
    // DCP's layout, with shared keys on both sides of "groups" and a repeated _comment key.
    const text =
      `{\n  "_comment1": "made by the test",\n  "pipeline": "projects/analysis.cppipe",\n  "data_file": "projects/load_data.csv",\n  "_comment1": "again",\n` +
      `  "groups": [\n${groups.map((g) => `    ${JSON.stringify(g)}`).join(",\n")}\n  ],\n` +
      `  "input": "projects/input/",\n  "output": "projects/output/",\n  "output_structure": "Metadata_Plate/Metadata_Well"\n}\n`;
    writeFileSync(join(work, "job.json"), text);

    const run = await runDcp(["submit", "job.json", "--json"], { cwd: work });
    expect(run.stderr).not.toMatch(/dcp:/);
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({
      groups: 1000,
      sent: 1000,
      unsent: 0,
      stringGroups: 800,
      dictGroups: 200,
      groupsWithOverrides: 20,
      queueDepth: 1000,
      dryRun: false,
    });

    const client = sqs();
    const bodies: string[] = [];
    for (let empty = 0; empty < 2 && bodies.length <= 1000;) {
      const { Messages = [] } = await client.send(
        new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 600 }),
      );
      if (!Messages.length) empty += 1;
      for (const m of Messages) bodies.push(m.Body!);
    }
    expect(bodies).toHaveLength(1000);
    const seen = new Set<string>();
    for (const body of bodies) {
      const message = messageSchema.parse(JSON.parse(body));
      // Byte for byte what DCP's submitJob would have sent: same keys, same order.
      expect(body).toBe(messageBody(message));
      const pairs =
        typeof message.Metadata === "string" ? parseMetadataString(message.Metadata) : Object.entries(message.Metadata);
      seen.add(pairs.map(([k, v]) => `${k}=${v}`).join(","));
      expect(message.output_structure).toBe("Metadata_Plate/Metadata_Well");
      expect(message.data_file).toMatch(/^projects\/(P\d\/)?load_data\.csv$/);
    }
    expect(seen).toEqual(expected);
    expect(await depth(url)).toBe(1000);
  });

  it("has at least 15 malformed job files, and a case for each", () => {
    const files = readdirSync(BAD_DIR)
      .filter((f) => f.endsWith(".json"))
      .sort();
    expect(files.length).toBeGreaterThanOrEqual(15);
    expect(files).toEqual(Object.keys(BAD_FIXTURES).sort());
  });

  it.concurrent.each(Object.entries(BAD_FIXTURES))(
    "rejects %s with one message (file, field, fix), exit 2, nothing sent",
    async (name, { field, problem }) => {
      const file = join(BAD_DIR, name);
      const run = await runDcp(["submit", file], { cwd: dir });
      expect(run.code).toBe(2);
      const lines = run.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      const prefix = field ? `dcp: ${file}: ${field}: ` : `dcp: ${file}: `;
      expect(lines[0]!.startsWith(prefix)).toBe(true);
      expect(lines[0]).toMatch(problem);
      expect(lines[0]).toMatch(/\. Fix: \S/);
      expect(await depth(badQueueUrl)).toBe(0);
    },
  );

  it("rejects a group whose message would exceed 262144 bytes, and sends nothing", async () => {
    const work = tempDir("dcp-submit-big-");
    writeConfig(work, badApp);
    const huge = `Metadata_Plate=P1,Metadata_Note=${"x".repeat(262_100)}`;
    const job = {
      pipeline: "p.cppipe",
      data_file: "d.csv",
      input: "in/",
      output: "out/",
      groups: [{ Metadata: "Metadata_Plate=P0" }, { Metadata: huge }],
    };
    writeFileSync(join(work, "job.json"), JSON.stringify(job));
    const run = await runDcp(["submit", "job.json"], { cwd: work });
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toMatch(
      /^dcp: job\.json: groups\[1\]: its message would be \d+ bytes, over SQS's limit of 262144\. Fix: /,
    );
    expect(await depth(badQueueUrl)).toBe(0);
  });

  it("rejects a bad --concurrency with exit 2", async () => {
    const run = await runDcp(["submit", join(REPO_ROOT, "files/exampleJob.json"), "--concurrency", "0"], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--concurrency.*at least 1.*Fix:/);
  });

  it("warns when the queue already holds messages (a second submit adds to them)", async () => {
    const app = uniqueAppName("Again");
    const work = tempDir("dcp-submit-again-");
    writeConfig(work, app);
    const url = await createQueues(app);
    const example = join(REPO_ROOT, "files/exampleJob.json");
    const first = await runDcp(["submit", example], { cwd: work });
    expect(first.code).toBe(0);
    expect(first.stdout).not.toMatch(/already holds/);
    const second = await runDcp(["submit", example], { cwd: work });
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/warning: \S+Queue already holds about 9 messages \(an earlier submit\?\)/);
    expect(second.stdout).toMatch(/now holds about 18 messages/);
    expect(await depth(url)).toBe(18);
  });

  it("tells the user to run dcp setup when the queue does not exist (exit 1)", async () => {
    const work = tempDir("dcp-submit-noq-");
    writeConfig(work, uniqueAppName("NoQueue"));
    const run = await runDcp(["submit", join(REPO_ROOT, "files/exampleJob.json")], { cwd: work });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/dcp: the job queue \S+Queue does not exist .*Run `dcp setup` first/);
  });

  it("--dry-run validates and shows the messages without calling AWS", async () => {
    // An SQS endpoint nobody listens on: any AWS call would fail the command.
    const run = await runDcp(["submit", join(REPO_ROOT, "files/exampleJob.json"), "--dry-run", "--json"], {
      cwd: dir,
      env: { AWS_ENDPOINT_URL_SQS: "http://127.0.0.1:9", AWS_ENDPOINT_URL: "http://127.0.0.1:9" },
    });
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout) as {
      dryRun: boolean;
      groups: number;
      queue: string;
      firstBodies: unknown[];
    };
    expect(summary).toMatchObject({ dryRun: true, groups: 9, queue: `${badApp}Queue` });
    expect(summary.firstBodies).toHaveLength(3);
    expect(messageSchema.parse(summary.firstBodies[0])).toMatchObject({ pipeline: "projects/analysis.cppipe" });
    expect(run.stderr).toMatch(/Nothing was sent/);
  });
});
