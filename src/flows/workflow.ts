/**
 * `dcp workflow run|status|schema` (issue 15): steps run in dependency order, each as its own run,
 * driven by spawning the dcp CLI itself (process.execPath + bin/dcp, argv arrays, a per-step config
 * file): make-jobs, setup, submit, start-cluster, monitor (which tears down), then the step's gate on
 * its dead-letter queue; a collect step runs `dcp collect`. The workflow state file records each
 * step's phase after every change (atomic writes), so a killed `workflow run` continues where it was.
 * Why spawning rather than importing the other flows: docs/ARCHITECTURE.md, "workflow".
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, renameSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { hostname } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { awsContext } from "../aws/context.js";
import { listObjects, s3Client } from "../aws/s3.js";
import { findQueueUrl, sqsClient } from "../aws/sqs.js";
import { readConfigFile, parseConfig } from "../config/load.js";
import { effectiveBuckets, resourceNames, type Config } from "../config/schema.js";
import { Interrupted, OperationalError, UserInputError } from "../errors.js";
import { writeFileAtomic } from "../io/atomic-write.js";
import { printOrWrite } from "../io/print-or-write.js";
import { readWholeQueue } from "../run/queue-reading.js";
import {
  parseWorkflow,
  stepAppName,
  stepConfigObject,
  type CollectStep,
  type RunStep,
  type Workflow,
  type WorkflowStep,
} from "../plan/workflow/file.js";
import {
  bodyMetadata,
  distinctGroups,
  gateVerdict,
  jobFileOfBodies,
  newStepState,
  stepStatusLine,
  workflowStateSchema,
  type Attempt,
  type StepState,
  type WorkflowState,
} from "../plan/workflow/state.js";
import { interruptOnSignals } from "../signals.js";
import { checkJobFile, jobFileMessages } from "../submit/job-reader.js";
import type { Output } from "../ui/output.js";
import { readJsonFile } from "../validation.js";
import { deriveNames } from "../worker/naming.js";
import { readRunState } from "../state/run-state.js";
import { workflowJsonSchemaText } from "../plan/workflow/json-schema.js";
import type { DcpMessage } from "../plan/message.js";

const DCP_BIN = fileURLToPath(new URL("../../bin/dcp", import.meta.url));

export interface WorkflowContext {
  output: Output;
  configPath: string;
  region?: string | undefined;
  profile?: string | undefined;
}

export interface WorkflowRunFlags {
  dryRun?: boolean;
  pollInterval?: number;
  waitTimeout?: number;
}

/** Everything a run needs, checked before anything is written or created. */
interface Loaded {
  file: string;
  dir: string;
  workflow: Workflow;
  base: Config;
  baseRaw: Record<string, unknown>;
  stepConfigs: Map<string, { raw: Record<string, unknown>; config: Config }>;
  statePath: string;
  workDir: string;
}

/** The workflow file, parsed and checked; its name defaults to the file's. */
async function readWorkflow(file: string): Promise<Workflow> {
  const defaultName = basename(file)
    .replace(/\.json$/i, "")
    .replace(/[^A-Za-z0-9-]/g, "-");
  return parseWorkflow(await readJsonFile(file, "workflow file"), file, defaultName);
}

/** Reads and checks the workflow file, the base config and every file the steps name (exit 2 on the first problem). */
async function loadWorkflow(file: string, ctx: WorkflowContext): Promise<Loaded> {
  const workflow = await readWorkflow(file);
  const dir = dirname(resolve(file));
  const { config: base } = await readConfigFile(ctx.configPath, { region: ctx.region, profile: ctx.profile });
  const baseRaw = (await readJsonFile(ctx.configPath, "config file")) as Record<string, unknown>;
  delete baseRaw.$schema;
  if (ctx.region) baseRaw.AWS_REGION = ctx.region;
  if (ctx.profile) baseRaw.AWS_PROFILE = ctx.profile;
  const stepConfigs = new Map<string, { raw: Record<string, unknown>; config: Config }>();
  const missing = (field: string, path: string, what: string) =>
    new UserInputError(file, field, `${what} ${path} does not exist`, `correct the path (relative to ${dir})`);
  for (const step of workflow.steps) {
    const at = `steps[${step.index}]`;
    if (step.kind === "collect") {
      const source = step.collect.source;
      if (source && !/^s3:\/\//i.test(source) && !existsSync(resolve(dir, source)))
        throw missing(`${at}.collect.source`, source, "the folder");
      continue;
    }
    const stepRaw = stepConfigObject(baseRaw, base, step);
    stepConfigs.set(step.name, { raw: stepRaw, config: parseConfig(stepRaw, `${file}: ${at}.config`) });
    if (!existsSync(resolve(dir, step.fleet))) throw missing(`${at}.fleet`, step.fleet, "the fleet file");
    if (step.jobs.file) {
      if (!existsSync(resolve(dir, step.jobs.file))) throw missing(`${at}.jobs.file`, step.jobs.file, "the job file");
      await checkJobFile(resolve(dir, step.jobs.file));
    }
    if (step.jobs.fromCsv && !existsSync(resolve(dir, step.jobs.fromCsv.csv)))
      throw missing(`${at}.jobs.fromCsv.csv`, step.jobs.fromCsv.csv, "the CSV");
  }
  const workDir = join("files", `workflow-${workflow.name}`);
  return { file, dir, workflow, base, baseRaw, stepConfigs, statePath: `${workDir}.json`, workDir };
}

// --- state -----------------------------------------------------------------------------------

function readState(path: string): WorkflowState | undefined {
  if (!existsSync(path)) return undefined;
  const parsed = workflowStateSchema.safeParse(JSON.parse(readFileSync(path, "utf8")));
  if (!parsed.success)
    throw new UserInputError(
      path,
      undefined,
      "is not a workflow state file dcp can read",
      "move it away to start over",
    );
  return parsed.data;
}

class StateFile {
  constructor(
    readonly path: string,
    public state: WorkflowState,
  ) {}
  step(name: string): StepState {
    return this.state.steps.find((s) => s.name === name)!;
  }
  async save(): Promise<void> {
    await writeFileAtomic(this.path, `${JSON.stringify(this.state, null, 2)}\n`);
  }
  async set(name: string, change: Partial<StepState>): Promise<StepState> {
    Object.assign(this.step(name), change, { updatedAt: new Date().toISOString() });
    await this.save();
    return this.step(name);
  }
}

/** A pid that is alive and runs dcp (a reused pid of another program does not count). */
function dcpAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("dcp");
  } catch {
    return true; // no /proc (macOS): trust kill(0)
  }
}

// --- children ----------------------------------------------------------------------------------

interface ChildResult {
  code: number | null;
  stdout: string;
}

class Runner {
  private child: ReturnType<typeof spawn> | undefined;
  constructor(
    private readonly output: Output,
    private readonly state: StateFile,
    private readonly signal: AbortSignal,
  ) {}

  /** Runs `dcp [--config cfg] args...` in this folder; lines go to the output with the step's name. */
  async dcp(step: string, args: string[], options: { config?: string; capture?: boolean } = {}): Promise<ChildResult> {
    if (this.signal.aborted) throw new Interrupted("stopped before the next command");
    const argv = [DCP_BIN, ...(options.config ? ["--config", options.config] : []), ...args];
    this.output.line(`[${step}] $ dcp ${argv.slice(1).join(" ")}`);
    const child = spawn(process.execPath, argv, {
      env: { ...process.env, CI: process.env.CI ?? "true", DCP_EXIT_WITH_PARENT: String(process.pid) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    this.state.state.child = { pid: child.pid ?? 0, step, command: args[0] ?? "" };
    await this.state.save();
    let stdout = "";
    const forward = (stream: NodeJS.ReadableStream, capture: boolean) => {
      let buffered = "";
      stream.on("data", (chunk: Buffer) => {
        if (capture) return void (stdout += chunk.toString());
        buffered += chunk.toString();
        const lines = buffered.split("\n");
        buffered = lines.pop() ?? "";
        for (const line of lines) if (line.trim()) this.output.line(`[${step}] ${line}`);
      });
      stream.on("end", () => buffered.trim() && this.output.line(`[${step}] ${buffered}`));
    };
    forward(child.stdout!, Boolean(options.capture));
    forward(child.stderr!, false);
    const code = await new Promise<number | null>((res) => child.on("close", (c) => res(c)));
    this.child = undefined;
    delete this.state.state.child;
    await this.state.save();
    if (this.signal.aborted) throw new Interrupted(`dcp ${args[0]} stopped`);
    return { code, stdout };
  }

  /** Passes a SIGTERM on to the command in progress (Ctrl-C reaches it from the terminal anyway). */
  forward(sig: NodeJS.Signals): void {
    if (sig === "SIGTERM") this.child?.kill("SIGTERM");
  }

  async ok(step: string, args: string[], options: { config?: string; capture?: boolean } = {}): Promise<string> {
    const { code, stdout } = await this.dcp(step, args, options);
    if (code !== 0)
      throw new OperationalError(
        `step ${step}: dcp ${args[0]} exited with code ${code}; fix what it said, then run \`dcp workflow run\` again to continue`,
      );
    return stdout;
  }
}

/** Waits for a command a killed `workflow run` left behind (it stops by itself: DCP_EXIT_WITH_PARENT). */
async function waitForOrphan(state: StateFile, output: Output): Promise<void> {
  const child = state.state.child;
  if (!child) return;
  if (dcpAlive(child.pid)) {
    output.line(
      `waiting for dcp ${child.command} (pid ${child.pid}) of step ${child.step}, left by an earlier run, to stop`,
    );
    for (let waited = 0; dcpAlive(child.pid); waited += 0.5) {
      if (waited === 30) process.kill(child.pid, "SIGTERM");
      if (waited > 240)
        throw new OperationalError(`dcp ${child.command} (pid ${child.pid}) does not stop; stop it, then run again`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  delete state.state.child;
  await state.save();
}

// --- steps ---------------------------------------------------------------------------------------

const camelToFlag = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

function makeJobsArgs(step: RunStep, dir: string, jobFile: string): string[] {
  const { makeJobs, fromCsv } = step.jobs;
  if (makeJobs) {
    const flags: string[] = [];
    for (const [key, value] of Object.entries(makeJobs.flags ?? {})) {
      if (key === "wellDigitPad") flags.push(...(value === false ? ["--no-well-digit-pad"] : []));
      else if (typeof value === "boolean") flags.push(...(value ? [camelToFlag(key)] : []));
      else flags.push(camelToFlag(key), String(value));
    }
    return [
      "make-jobs",
      makeJobs.step,
      makeJobs.project,
      makeJobs.batch,
      makeJobs.plates.join(","),
      ...flags,
      "-o",
      jobFile,
    ];
  }
  const csv = fromCsv!;
  return [
    "make-jobs",
    "from-csv",
    resolve(dir, csv.csv),
    "--group-by",
    csv.groupBy.join(","),
    "--pipeline",
    csv.pipeline,
    "--data-file",
    csv.dataFile,
    "--output",
    csv.output,
    ...(csv.input ? ["--input", csv.input] : []),
    ...(csv.outputStructure ? ["--output-structure", csv.outputStructure] : []),
    "-o",
    jobFile,
  ];
}

async function messagesOf(jobFile: string): Promise<DcpMessage[]> {
  const messages: DcpMessage[] = [];
  for await (const m of jobFileMessages(await checkJobFile(jobFile))) messages.push(m);
  return messages;
}

/**
 * The groups whose outputs do not pass the CHECK_IF_DONE contract (the worker's: at least
 * EXPECTED_NUMBER_FILES objects of MIN_FILE_SIZE_BYTES or more whose key holds NECESSARY_STRING under
 * the group's output prefix). One listing of each output prefix, then a binary search per group.
 */
async function groupsNotDone(config: Config, messages: DcpMessage[]): Promise<DcpMessage[]> {
  const s3 = s3Client(awsContext(config));
  const bucket = effectiveBuckets(config).destination;
  const listings = new Map<string, string[]>();
  for (const output of new Set(messages.map((m) => m.output.replace(/\/+$/, "")))) {
    const objects = await listObjects(s3, bucket, output ? `${output}/` : "");
    const counted = objects.filter(
      (o) => o.size >= config.MIN_FILE_SIZE_BYTES && o.key.includes(config.NECESSARY_STRING),
    );
    listings.set(output, counted.map((o) => o.key).sort());
  }
  const needed = Math.max(1, config.EXPECTED_NUMBER_FILES);
  return messages.filter((m) => {
    const keys = listings.get(m.output.replace(/\/+$/, "")) ?? [];
    const prefix = deriveNames(m).outputPrefix;
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (keys[mid]! < prefix) lo = mid + 1;
      else hi = mid;
    }
    let count = 0;
    while (lo + count < keys.length && keys[lo + count]!.startsWith(prefix)) count++;
    return count < needed;
  });
}

class WorkflowRun {
  constructor(
    private readonly loaded: Loaded,
    private readonly state: StateFile,
    private readonly runner: Runner,
    private readonly output: Output,
    private readonly flags: WorkflowRunFlags,
  ) {}

  private stepDir(step: string): string {
    return join(this.loaded.workDir, step);
  }

  private async startAttempt(step: RunStep, jobFile: string, groups: number, why: string): Promise<void> {
    const s = this.state.step(step.name);
    const number = s.attempts.length + 1;
    // The earlier attempt's finished state file is kept beside, so start-cluster starts a fresh run.
    const runState = resourceNames(this.loaded.stepConfigs.get(step.name)!.config).stateFile;
    if (existsSync(runState)) renameSync(runState, `${runState}.attempt-${number - 1}`);
    s.attempts.push({ number, jobFile, groups, startedAt: new Date().toISOString() });
    this.output.line(`step ${step.name}: attempt ${number} with ${groups} group(s): ${why}`);
    await this.state.set(step.name, { phase: "jobs-written" });
  }

  async runStep(step: RunStep): Promise<void> {
    const { config } = this.loaded.stepConfigs.get(step.name)!;
    const names = resourceNames(config);
    let s = this.state.step(step.name);
    const configFile = join(this.stepDir(step.name), "config.json");
    await mkdir(this.stepDir(step.name), { recursive: true });
    // Written at every `workflow run`: a fixed config or workflow file applies to what is still to run.
    await writeFileAtomic(configFile, `${JSON.stringify(this.loaded.stepConfigs.get(step.name)!.raw, null, 2)}\n`);
    s = await this.state.set(step.name, { configFile, appName: config.APP_NAME });
    const cfg = { config: configFile };

    if (s.phase === "passed") {
      if (!config.CHECK_IF_DONE_BOOL)
        return void this.output.line(
          `step ${step.name}: passed earlier (CHECK_IF_DONE_BOOL is off: outputs not checked)`,
        );
      // Groups the gate accepted as failed have no outputs, and are not run again.
      const accepted = new Set(s.attempts.flatMap((a) => (a.deadLettered ?? []).map(bodyMetadata)));
      const missing = (await groupsNotDone(config, await messagesOf(s.jobFile!))).filter(
        (m) => !accepted.has(bodyMetadata(JSON.stringify(m))),
      );
      if (!missing.length)
        return void this.output.line(`step ${step.name}: passed earlier; its outputs are all there (CHECK_IF_DONE)`);
      this.output.warn(
        `step ${step.name}: ${missing.length} of ${s.groups} group(s) lack their outputs by CHECK_IF_DONE (at least ${config.EXPECTED_NUMBER_FILES} files of ${config.MIN_FILE_SIZE_BYTES}+ bytes${config.NECESSARY_STRING ? ` holding "${config.NECESSARY_STRING}"` : ""} per group folder), e.g. ${bodyMetadata(JSON.stringify(missing[0]))}`,
      );
      const retry = join(this.stepDir(step.name), `missing-${s.attempts.length + 1}.json`);
      await writeFileAtomic(
        retry,
        jobFileOfBodies(
          missing.map((m) => JSON.stringify(m)),
          `outputs missing for ${step.name}`,
        ),
      );
      await this.startAttempt(step, retry, missing.length, "their outputs are missing (CHECK_IF_DONE)");
    }
    if (s.phase === "gate-failed") {
      const attempt = s.attempts.at(-1)!;
      const verdict = gateVerdict(
        distinctGroups(attempt.deadLettered ?? []).length,
        s.groups ?? 0,
        step.maxFailedShare,
      );
      if (verdict.passed) {
        this.output.line(`step ${step.name}: the gate now allows ${verdict.failed} dead-lettered group(s): passed`);
        await this.state.set(step.name, { phase: "passed", gate: verdict });
        return;
      }
      const bodies = distinctGroups(attempt.deadLettered ?? []);
      const retry = join(this.stepDir(step.name), `retry-${attempt.number + 1}.json`);
      await writeFileAtomic(retry, jobFileOfBodies(bodies, `the groups of ${step.name} that failed its gate`));
      await this.startAttempt(step, retry, bodies.length, "resubmitting the groups that failed the gate");
    }
    if (s.phase === "pending") {
      let jobFile: string;
      if (step.jobs.file) jobFile = resolve(this.loaded.dir, step.jobs.file);
      else {
        jobFile = join(this.stepDir(step.name), "jobs.json");
        await this.runner.ok(step.name, makeJobsArgs(step, this.loaded.dir, jobFile));
      }
      const groups = (await checkJobFile(jobFile)).groups;
      await this.state.set(step.name, { jobFile, groups });
      await this.startAttempt(step, jobFile, groups, "all groups");
    }
    const attempt = (): Attempt => this.state.step(step.name).attempts.at(-1)!;
    const phase = () => this.state.step(step.name).phase;
    const poll = String(this.flags.pollInterval ?? 15);

    if (phase() === "jobs-written") {
      await this.runner.ok(step.name, ["setup"], cfg);
      await this.state.set(step.name, { phase: "set-up" });
    }
    if (phase() === "submitting") {
      // Killed while submitting: no fleet yet, so no worker took a message. Send what the queue lacks.
      const queued = new Set((await this.everyMessage(config, names.queueName)).map((m) => bodyMetadata(m.body)));
      const rest = (await messagesOf(attempt().jobFile)).filter((m) => !queued.has(bodyMetadata(JSON.stringify(m))));
      this.output.line(
        `step ${step.name}: an interrupted submit had queued ${queued.size} group(s); sending ${rest.length} more`,
      );
      if (rest.length) {
        const file = join(this.stepDir(step.name), `resume-${attempt().number}.json`);
        await writeFileAtomic(
          file,
          jobFileOfBodies(
            rest.map((m) => JSON.stringify(m)),
            `the rest of ${attempt().jobFile}`,
          ),
        );
        await this.runner.ok(step.name, ["submit", file], cfg);
      }
      await this.state.set(step.name, { phase: "submitted" });
    }
    if (phase() === "set-up") {
      await this.state.set(step.name, { phase: "submitting" });
      await this.runner.ok(step.name, ["submit", attempt().jobFile], cfg);
      await this.state.set(step.name, { phase: "submitted" });
    }
    if (phase() === "starting-cluster") {
      const run = existsSync(names.stateFile) ? await readRunState(names.stateFile) : undefined;
      if (run && run.dcp?.status !== "finished") await this.state.set(step.name, { phase: "monitoring" });
      else await this.state.set(step.name, { phase: "submitted" });
    }
    if (phase() === "submitted") {
      await this.state.set(step.name, { phase: "starting-cluster" });
      const fleet = resolve(this.loaded.dir, step.fleet);
      const wait = String(this.flags.waitTimeout ?? 600);
      await this.runner.ok(step.name, ["start-cluster", fleet, "--wait-timeout", wait, "--poll-interval", poll], cfg);
      const run = await readRunState(names.stateFile);
      attempt().fleetId = run.MONITOR_FLEET_ID;
      await this.state.set(step.name, { phase: "monitoring" });
    }
    if (phase() === "monitoring") {
      const run = existsSync(names.stateFile) ? await readRunState(names.stateFile) : undefined;
      if (run?.dcp?.status !== "finished") await this.runner.ok(step.name, ["monitor", "--interval", poll], cfg);
      attempt().finishedAt = new Date().toISOString();
      await this.state.set(step.name, { phase: "finished" });
    }
    if (phase() === "finished") await this.gate(step, config);
  }

  /** Every message of a queue no worker reads (nothing when it does not exist), left as it was. */
  private async everyMessage(config: Config, queueName: string): Promise<Array<{ id: string; body: string }>> {
    const sqs = sqsClient(awsContext(config));
    const url = await findQueueUrl(sqs, queueName);
    if (!url) return [];
    const reading = await readWholeQueue(sqs, url, { warn: (t) => this.output.warn(t) });
    // Messages someone holds cannot be read: an earlier reader killed while holding them. They come back
    // when that hold ends; the step's next run sees them.
    if (reading.before.inFlight)
      this.output.warn(`${queueName}: ${reading.before.inFlight} message(s) held by an earlier reader were not read`);
    return reading.messages.map((m) => ({ id: m.messageId, body: m.body }));
  }

  private async gate(step: RunStep, config: Config): Promise<void> {
    const s = this.state.step(step.name);
    // Earlier attempts' dead letters stay in the queue (for `dcp failures`): only new ones count.
    const earlier = new Set(s.attempts.slice(0, -1).flatMap((a) => a.deadLetteredIds ?? []));
    const messages = (await this.everyMessage(config, config.SQS_DEAD_LETTER_QUEUE)).filter((m) => !earlier.has(m.id));
    const bodies = messages.map((m) => m.body);
    Object.assign(s.attempts.at(-1)!, { deadLettered: bodies, deadLetteredIds: messages.map((m) => m.id) });
    const failing = distinctGroups(bodies);
    const verdict = gateVerdict(failing.length, s.groups ?? 0, step.maxFailedShare);
    if (verdict.passed) {
      this.output.line(
        `step ${step.name}: gate passed (${failing.length} of ${s.groups} group(s) dead-lettered, ${step.maxFailedShare ? `at most ${step.maxFailedShare * 100}% allowed` : "none allowed"})`,
      );
      await this.state.set(step.name, { phase: "passed", gate: verdict });
      return;
    }
    await this.state.set(step.name, { phase: "gate-failed", gate: verdict });
    const list = failing.map((b) => `  ${bodyMetadata(b)}`).join("\n");
    throw new OperationalError(
      [
        `step ${step.name}: gate failed: ${failing.length} of ${s.groups} group(s) dead-lettered (${step.maxFailedShare ? `at most ${step.maxFailedShare * 100}%` : "none"} allowed):`,
        list,
        `Their messages stay in the dead-letter queue ${config.SQS_DEAD_LETTER_QUEUE}; the workers' lines are in the CloudWatch log group ${config.LOG_GROUP_NAME} (one stream per group); \`dcp failures\`, where your dcp has it, shows why each failed.`,
        `To go on: fix the cause (data, pipeline, or this step's "config" in ${this.loaded.file}), then run \`dcp workflow run ${this.loaded.file}\` again: it resubmits only these ${failing.length} group(s) and continues. To accept them instead, raise this step's "gate": {"maxFailedShare": ...}.`,
      ].join("\n"),
    );
  }

  async collectStep(step: CollectStep): Promise<void> {
    const s = this.state.step(step.name);
    const c = step.collect;
    const out = resolve(this.loaded.dir, c.out);
    if (s.phase === "passed" && existsSync(out))
      return void this.output.line(`step ${step.name}: collected earlier into ${out}`);
    let source = c.source && !/^s3:\/\//i.test(c.source) ? resolve(this.loaded.dir, c.source) : c.source;
    let structure = c.metadataFromPath;
    let config: string | undefined;
    if (c.from) {
      const from = this.state.step(c.from);
      const first = (await messagesOf(from.jobFile!))[0]!;
      const stepConfig = this.loaded.stepConfigs.get(c.from)!.config;
      source = `s3://${effectiveBuckets(stepConfig).destination}/${first.output.replace(/\/+$/, "")}`;
      structure ??= first.output_structure || undefined;
      config = from.configFile;
    }
    await this.state.set(step.name, { phase: "collecting" });
    const args = [
      "collect",
      source!,
      "-o",
      out,
      ...(c.objects ? ["--objects", c.objects.join(",")] : []),
      ...(c.format ? ["--format", c.format] : []),
      ...(structure ? ["--metadata-from-path", structure] : []),
      "--json",
    ];
    const report = JSON.parse(
      await this.runner.ok(step.name, args, config ? { config, capture: true } : { capture: true }),
    ) as {
      objects: Record<string, { rows: number; table?: string }>;
    };
    const rows = Object.fromEntries(Object.entries(report.objects).map(([o, v]) => [o, v.rows]));
    for (const [object, summary] of Object.entries(report.objects))
      this.output.line(
        `step ${step.name}: ${object}: ${summary.rows} rows${summary.table ? ` -> ${summary.table}` : ""}`,
      );
    await this.state.set(step.name, { phase: "passed", rows });
  }
}

// --- commands ----------------------------------------------------------------------------------

function freshState(loaded: Loaded, previous: WorkflowState | undefined): WorkflowState {
  const steps = loaded.workflow.steps.map(
    (step) => previous?.steps.find((s) => s.name === step.name) ?? newStepState(step.name, step.kind),
  );
  return {
    version: 1,
    workflow: loaded.workflow.name,
    file: loaded.file,
    ...(previous?.child ? { child: previous.child } : {}),
    steps,
  };
}

function describeStep(step: WorkflowStep, loaded: Loaded): string {
  const deps = step.dependsOn.length ? ` after ${step.dependsOn.join(", ")}` : "";
  if (step.kind === "collect")
    return `${step.name}: collect ${step.collect.from ? `the outputs of ${step.collect.from}` : step.collect.source} into ${step.collect.out}${deps}`;
  const jobs = step.jobs.file
    ? `job file ${step.jobs.file}`
    : step.jobs.makeJobs
      ? `make-jobs ${step.jobs.makeJobs.step} ${step.jobs.makeJobs.project} ${step.jobs.makeJobs.batch} ${step.jobs.makeJobs.plates.join(",")}`
      : `make-jobs from-csv ${step.jobs.fromCsv!.csv} by ${step.jobs.fromCsv!.groupBy.join(",")}`;
  const overrides = Object.keys(step.overrides);
  const app = stepAppName(loaded.base.APP_NAME, step.name);
  return `${step.name}: run ${app} (${jobs}; fleet ${step.fleet}${overrides.length ? `; config ${overrides.join(", ")}` : ""}; gate: ${step.maxFailedShare ? `at most ${step.maxFailedShare * 100}% dead-lettered` : "no group dead-lettered"})${deps}`;
}

export async function runWorkflow(file: string, flags: WorkflowRunFlags, ctx: WorkflowContext): Promise<void> {
  const { output } = ctx;
  const loaded = await loadWorkflow(file, ctx);
  const previous = readState(loaded.statePath);
  if (flags.dryRun) {
    output.line(`workflow ${loaded.workflow.name} (${file}): ${loaded.workflow.steps.length} steps, in this order:`);
    for (const step of loaded.workflow.steps) {
      const phase = previous?.steps.find((s) => s.name === step.name)?.phase ?? "pending";
      output.line(`  ${describeStep(step, loaded)} [${phase}]`);
    }
    output.line(`state file: ${loaded.statePath} (dry run: nothing written, nothing created)`);
    return;
  }
  if (
    previous?.runner &&
    previous.runner.pid !== process.pid &&
    previous.runner.host === hostname() &&
    dcpAlive(previous.runner.pid)
  )
    throw new OperationalError(
      `another dcp workflow run (pid ${previous.runner.pid}) is working on ${loaded.statePath}; wait for it, or stop it (Ctrl-C) and run again`,
    );
  await mkdir(loaded.workDir, { recursive: true });
  const state = new StateFile(loaded.statePath, freshState(loaded, previous));
  state.state.runner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  await state.save();
  output.line(`workflow ${loaded.workflow.name}: state in ${loaded.statePath}`);
  let runner: Runner | undefined;
  const signals = interruptOnSignals({
    onFirst: (sig) => {
      output.line(`${sig}: stopping after the current command stops (again to quit at once)`);
      runner?.forward(sig);
    },
  });
  try {
    await waitForOrphan(state, output);
    runner = new Runner(output, state, signals.signal);
    const run = new WorkflowRun(loaded, state, runner, output, flags);
    for (const step of loaded.workflow.steps) {
      const blocked = step.dependsOn.find((d) => state.step(d).phase !== "passed");
      if (blocked) throw new OperationalError(`step ${step.name} waits for ${blocked}, which has not passed`);
      output.line(
        `step ${step.name}: ${state.step(step.name).phase === "pending" ? "starting" : `continuing from ${state.step(step.name).phase}`}`,
      );
      if (step.kind === "run") await run.runStep(step);
      else await run.collectStep(step);
    }
    output.line(`workflow ${loaded.workflow.name}: every step passed`);
    for (const s of state.state.steps) output.line(`  ${stepStatusLine(s)}`);
    if (output.json) process.stdout.write(`${JSON.stringify(state.state, null, 2)}\n`);
  } catch (err) {
    if (err instanceof Interrupted)
      throw new Interrupted(`${err.message}; run \`dcp workflow run ${file}\` again to continue where it stopped`);
    throw err;
  } finally {
    signals.dispose();
    delete state.state.runner;
    await state.save();
  }
}

/** `dcp workflow schema`: the workflow file's JSON Schema, generated from the zod schema. */
export async function runWorkflowSchema(output: string | undefined): Promise<void> {
  await printOrWrite(workflowJsonSchemaText(), output);
}

export async function workflowStatus(file: string, ctx: WorkflowContext): Promise<void> {
  const workflow = await readWorkflow(file);
  const path = join("files", `workflow-${workflow.name}.json`);
  const state = readState(path);
  if (ctx.output.json) {
    process.stdout.write(`${JSON.stringify(state ?? { workflow: workflow.name, steps: [] }, null, 2)}\n`);
    return;
  }
  if (!state) return void ctx.output.line(`workflow ${workflow.name}: not started (no ${path})`);
  const running =
    state.runner && dcpAlive(state.runner.pid) ? ` (dcp workflow run pid ${state.runner.pid} is running)` : "";
  ctx.output.line(`workflow ${workflow.name}${running}:`);
  for (const step of workflow.steps) {
    const s = state.steps.find((x) => x.name === step.name) ?? newStepState(step.name, step.kind);
    ctx.output.line(`  ${stepStatusLine(s)}`);
    if (s.phase === "gate-failed")
      for (const body of distinctGroups(s.attempts.at(-1)?.deadLettered ?? []))
        ctx.output.line(`    failed: ${bodyMetadata(body)}`);
  }
}
