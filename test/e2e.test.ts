/**
 * End to end, as `make demo` runs it (demo/flow.ts): make-jobs → setup → submit → start-cluster →
 * two workers started from the task definition's environment → monitor until teardown.
 * CellProfiler is the TEST DOUBLE (test/fixtures/fake-cellprofiler).
 */
import { ListQueuesCommand } from "@aws-sdk/client-sqs";
import { DescribeClustersCommand } from "@aws-sdk/client-ecs";
import { describe, expect, it } from "vitest";
import { ecsClient } from "../src/aws/ecs.js";
import { sqsClient } from "../src/aws/sqs.js";
import { TEST_DOUBLE, resultsByGroup, runFlow } from "../demo/flow.js";
import { emulatorEnv, tempDir, uniqueAppName } from "./harness/dcp.js";

const RETRIES = 3;

describe("end to end", () => {
  it("50 groups, one poison and one already done, two workers: 48 results, poison dead-lettered after JOB_RETRIES runs, all torn down", async () => {
    const app = uniqueAppName("E2e");
    const lines: string[] = [];
    const result = await runFlow({
      workDir: tempDir("dcp-e2e-"),
      awsEnv: emulatorEnv(),
      appName: app,
      plates: 2,
      wells: 5,
      sites: 5,
      cellprofiler: TEST_DOUBLE,
      poisonGroup: 17,
      doneGroup: 4,
      jobRetries: RETRIES,
      monitorInterval: 1,
      log: (line) => lines.push(line),
    });
    const output = lines.join("\n");
    if (process.env.E2E_OUTPUT) (await import("node:fs")).writeFileSync(process.env.E2E_OUTPUT, output);
    expect(result.groups).toHaveLength(50);
    expect(result.monitorExitCode, output).toBe(0);
    expect(result.workerExitCodes, output).toEqual([0, 0]);

    const byGroup = resultsByGroup(result);
    const doneId = result
      .doneGroup!.split(",")
      .map((kv) => kv.split("=")[1])
      .join("-");
    const poisonId = result
      .poisonGroup!.split(",")
      .map((kv) => kv.split("=")[1])
      .join("-");
    // 48 analysed groups, plus the folder of the group that was already done before the run.
    const analysed = [...byGroup.keys()].filter((id) => id !== doneId);
    expect(analysed.sort()).toEqual(result.groups.filter((id) => id !== doneId && id !== poisonId).sort());
    for (const id of analysed) expect(byGroup.get(id)).toEqual(["Experiment.csv", "Image.csv", "Nuclei.csv"]);

    // The done group never reached CellProfiler; the poison one ran exactly JOB_RETRIES times.
    expect(result.cellprofilerRuns.filter((g) => g === result.doneGroup)).toHaveLength(0);
    expect(result.cellprofilerRuns.filter((g) => g === result.poisonGroup)).toHaveLength(RETRIES);
    expect(result.cellprofilerRuns).toHaveLength(48 + RETRIES);
    expect(result.deadLetters.map((b) => JSON.parse(b).Metadata)).toEqual([result.poisonGroup]);

    // Teardown complete: no job queue, no cluster.
    const ctx = { region: "us-east-1", profile: undefined };
    const queues = await sqsClient(ctx).send(new ListQueuesCommand({ QueueNamePrefix: `${app}Queue` }));
    expect(queues.QueueUrls ?? []).toEqual([]);
    const { clusters = [] } = await ecsClient(ctx).send(new DescribeClustersCommand({ clusters: [`${app}Cluster`] }));
    expect(clusters.filter((c) => c.status !== "INACTIVE")).toEqual([]);
    // 48 analysed plus the one CHECK_IF_DONE skipped.
    expect(output).toMatch(/\[monitor\].*groups done: +49 of 50/);
    expect(output).toMatch(/\[monitor\].*dead-lettered: +1\b/);
  });
});
