/**
 * Lease heartbeat: with a 5 s visibility timeout and a 15 s job, the message must not come back while
 * the job runs. Two job loops poll the queue, so a lapsed lease would show up as a second run.
 */
import { describe, expect, it } from "vitest";
import {
  PLATE,
  cellprofilerRuns,
  exampleMessage,
  listKeys,
  queueCounts,
  receiveAll,
  runWorkerToEnd,
  scenario,
  send,
} from "./worker-helpers.js";

describe("dcp worker lease", () => {
  it("keeps a 15 s job invisible on a 5 s visibility queue: it runs once", async () => {
    const s = await scenario({ visibility: 5, env: { FAKE_CP_SLEEP_MS: "15000", DOCKER_CORES: "2" } });
    await send(s, exampleMessage("1"));
    const run = await runWorkerToEnd(s);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain("lease 5 s, extended every 1.7 s");
    expect(run.output.match(/\[loop \d\] started/g)).toHaveLength(2);
    expect(cellprofilerRuns(s)).toHaveLength(1);
    expect(run.output).not.toContain("could not extend");
    expect(await listKeys(s.bucket, `results/${PLATE}-D03-1/`)).toHaveLength(3);
    expect(await queueCounts(s.queueUrl)).toEqual({ visible: 0, inFlight: 0 });
    expect(await receiveAll(s.deadLetterUrl)).toEqual([]);
  });
});
