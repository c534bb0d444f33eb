/**
 * The tail simulation of issue 14 (no AWS): a fleet of spot machines working through a queue, on a
 * simulated clock of 1-second ticks (the seconds in which nothing happens are skipped, with the same
 * figures), with the monitor's REAL decision code (`observe`, `shouldTearDown`, `planTarget` of
 * plan/monitor-decisions.ts; `planTail` and `readingDelayMs` of plan/monitor-tail.ts) taking its readings.
 * Shared by bench/tail.bench.ts (the 10,000-group run, seeds 1-50) and test/tail-plan.test.ts (a
 * smaller seeded run, and the size at one seed).
 *
 * The model, stated:
 * - Task times: lognormal, median `medianSeconds`, sigma `sigma`, drawn once per group from the seed (a
 *   group interrupted and run again takes the same time). A free job loop takes a visible group at once.
 * - Machines: launched at t=0 (and as replacements), billed from launch (with EC2's 60-second minimum),
 *   taking work after `bootSeconds`; `loops` job loops each.
 * - Spot interruptions: `interruptedShare` of the initial machines (rounded), at seeded times uniform over
 *   10-90 % of the ideal run time. At the 2-minute notice the worker hands its tasks back (visible at
 *   once; their loop-seconds so far are paid, not busy) and the machine ends 120 s later. The fleet
 *   (maintain) launches a replacement when running machines fall below its target. Same for both policies.
 * - Idle alarms (both policies): a machine whose loops have all been idle for 15 minutes is terminated
 *   (CPU < 1 % for 15 one-minute periods); booting machines are not idle.
 * - Original policy: DCP's monitor: when nothing is visible and fewer tasks are in flight than machines
 *   run, the target drops to the tasks in flight (noTermination); teardown after two empty readings.
 * - dcp's policy: the same, plus the tail (plan/monitor-tail.ts): once nothing has been visible on two
 *   readings in a row, each reading terminates the machines with no task in flight (the workers' ledger
 *   signal, here exact; paid until the confirming listing TAIL_CONFIRM_MS later) and lowers the target with them, or lowers a target above the running machines
 *   (no replacement while nothing is queued, or while the running machines take the queued groups within
 *   one boot at the recent completion rate); while nothing is visible and tasks are in flight the monitor
 *   reads every TAIL_INTERVAL_S (15 s) instead of `pollSeconds` (readingDelayMs).
 * - Paid = instance-seconds from launch to termination. Busy = loop-seconds of COMPLETED tasks / loops.
 */
import { doneRatePerMs, observe, planTarget, shouldTearDown, type Reading } from "../src/plan/monitor-decisions.js";
import type { Observations } from "../src/plan/monitor-observations.js";
import { estimateRun, type RunEstimate } from "../src/plan/estimate.js";
import { planTail, readingDelayMs, TAIL_CONFIRM_MS } from "../src/plan/monitor-tail.js";

export interface SimOptions {
  groups: number;
  machines: number;
  loops: number;
  medianSeconds: number;
  sigma: number;
  interruptedShare: number;
  seed: number;
  bootSeconds: number;
  pollSeconds: number;
  policy: "original" | "dcp";
  /**
   * Placement of the last groups, for the bench's bounds (not a policy dcp runs). Once at most
   * `queuedAtMost` groups are queued, a free loop on a machine whose other tasks all end within `belowS`
   * takes nothing while another machine runs that long (the last groups go where machines stay up anyway),
   * and a machine left with no task is terminated at once. How long a task still runs: `exact` (known,
   * which no scheduler here can know) or `age` (the mean remaining time of a lognormal task of that age:
   * what the open records' start times tell).
   */
  knownRemaining?: { belowS: number; queuedAtMost: number; from: "exact" | "age" };
}

export const ALARM_IDLE_SECONDS = 15 * 60;
export const NOTICE_SECONDS = 120;
const MIN_BILLED_SECONDS = 60;

export interface SimResult {
  policy: SimOptions["policy"];
  paidHours: number;
  busyHours: number;
  wallSeconds: number;
  machinesLaunched: number;
  interrupted: number;
  byTail: number;
  byAlarm: number;
  /** tail terminations of a machine that had a task in flight (must be 0) */
  tailKilledBusy: number;
  completed: number;
  /** where paid - busy went, in machine-hours (see `Waste`) */
  waste: Waste;
}

/**
 * The waste (paid - busy), split by cause, in machine-hours: `boot` (launch to first task), `notice`
 * (an interrupted machine's last 2 minutes), `lost` (loop-seconds of tasks handed back at a notice, / loops),
 * `partial` (idle loops of a machine that still has a task in flight, / loops: the tail's unavoidable part),
 * `idle` (a booted machine with no task in flight: decision latency and confirmation readings),
 * `starved` (idle loops while work is visible: 0 in this model), `other` (the 60-second minimum, rounding).
 */
export interface Waste {
  boot: number;
  notice: number;
  lost: number;
  partial: number;
  idle: number;
  starved: number;
  other: number;
}

/** mulberry32: a small seeded generator, so every run of the bench gives the same figures. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

interface Machine {
  id: string;
  launchedAt: number;
  readyAt: number;
  /** per loop: the running group and when it ends, or undefined */
  loops: ({ group: number; startedAt: number; endsAt: number } | undefined)[];
  idleFor: number;
  noticeAt?: number;
  endedAt?: number;
}

/** The standard normal CDF (Abramowitz-Stegun 7.1.26, error < 1.5e-7). */
function normalCdf(x: number): number {
  const t = 1 / (1 + (0.3275911 * Math.abs(x)) / Math.SQRT2);
  const poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t;
  const erf = 1 - poly * Math.exp(-(x * x) / 2);
  return 0.5 * (1 + (x >= 0 ? erf : -erf));
}

/**
 * E[D - age | D > age] for a lognormal task time D: what a task's age alone says of its remaining time.
 * For sigma 0.6 it stays within 440-720 s from 0 to 60 minutes (median 10 min): age says little.
 */
export function meanRemaining(age: number, median: number, sigma: number): number {
  if (age <= 0) return lognormalMean(median, sigma);
  const z = (Math.log(age) - Math.log(median)) / sigma;
  const survival = 1 - normalCdf(z);
  if (survival < 1e-12) return 0;
  return (lognormalMean(median, sigma) * (1 - normalCdf(z - sigma))) / survival - age;
}

/** The mean of a lognormal with this median and sigma: what "the true seconds per group" is. */
export function lognormalMean(median: number, sigma: number): number {
  return median * Math.exp((sigma * sigma) / 2);
}

/**
 * `dcp estimate` of the simulated run, given its true mean seconds per group and one spot price per
 * instance-hour; its lines other than compute (EBS, IPv4, alarms, requests) are zero here.
 */
export function estimateOfSim(o: Omit<SimOptions, "seed" | "policy">, pricePerHour: number): RunEstimate {
  return estimateRun({
    groups: o.groups,
    secondsPerGroup: lognormalMean(o.medianSeconds, o.sigma),
    secondsSource: "the simulation's true mean",
    machines: o.machines,
    tasksPerMachine: 1,
    dockerCores: o.loops,
    types: ["sim.type"],
    zones: undefined,
    quotes: [{ type: "sim.type", zone: "sim-1a", price: pricePerHour }],
    region: "us-east-1",
    ebsGbPerInstance: 0,
    assignIp: false,
    dashboard: false,
    outputFilesPerGroup: 0,
    pricedAt: 0,
  });
}

export function simulate(o: SimOptions): SimResult {
  const random = rng(o.seed);
  const durations = Array.from({ length: o.groups }, () =>
    Math.max(1, Math.round(o.medianSeconds * Math.exp(o.sigma * normal(random)))),
  );
  const ideal = (o.groups * lognormalMean(o.medianSeconds, o.sigma)) / (o.machines * o.loops);
  const interruptions = Math.round(o.interruptedShare * o.machines);
  const interruptAt = new Map<number, number>();
  while (interruptAt.size < interruptions) {
    const index = Math.floor(random() * o.machines);
    if (!interruptAt.has(index)) interruptAt.set(index, Math.round(o.bootSeconds + ideal * (0.1 + 0.8 * random())));
  }

  const queue: number[] = Array.from({ length: o.groups }, (_, i) => o.groups - 1 - i);
  const machines: Machine[] = [];
  const launch = (t: number): Machine => {
    const m: Machine = {
      id: `i-${(machines.length + 1).toString(16).padStart(8, "0")}`,
      launchedAt: t,
      readyAt: t + o.bootSeconds,
      loops: Array.from({ length: o.loops }, () => undefined),
      idleFor: 0,
    };
    const at = interruptAt.get(machines.length);
    if (at !== undefined) m.noticeAt = at;
    machines.push(m);
    return m;
  };
  for (let i = 0; i < o.machines; i++) launch(0);

  let target = o.machines;
  let observations: Observations | undefined;
  let quietSince: number | undefined;
  let busyLoopSeconds = 0;
  let completed = 0;
  let byTail = 0;
  let byAlarm = 0;
  let tailKilledBusy = 0;
  let interrupted = 0;
  const w = { boot: 0, notice: 0, lost: 0, partial: 0, idle: 0, starved: 0 };
  const running = () => machines.filter((m) => m.endedAt === undefined);
  const end = (m: Machine, t: number) => {
    for (const [i, task] of m.loops.entries())
      if (task) {
        queue.push(task.group);
        m.loops[i] = undefined;
      }
    m.endedAt = t;
  };

  let nextReading = o.pollSeconds;
  /** The next tick at which anything happens after tick `t`: a notice, a boot, a task's end, an alarm, a reading. */
  const nextEvent = (t: number): number => {
    let next = nextReading;
    for (const m of running()) {
      if (m.noticeAt !== undefined) next = Math.min(next, t < m.noticeAt ? m.noticeAt : m.noticeAt + NOTICE_SECONDS);
      if (t + 1 < m.readyAt) next = Math.min(next, m.readyAt);
      if (m.noticeAt !== undefined && t >= m.noticeAt) continue;
      if (t + 1 >= m.readyAt && queue.length && m.loops.some((task) => !task)) return t + 1;
      for (const task of m.loops) if (task) next = Math.min(next, task.endsAt);
      if (t + 1 >= m.readyAt && !m.loops.some(Boolean)) next = Math.min(next, t + ALARM_IDLE_SECONDS - m.idleFor);
    }
    return next;
  };
  /** `ticks` ticks after `t` in which nothing happens, accounted as the per-tick loop above does. */
  const skip = (t: number, ticks: number) => {
    for (const m of running()) {
      if (m.noticeAt !== undefined && t + 1 >= m.noticeAt) w.notice += ticks;
      else if (t + 1 < m.readyAt) w.boot += ticks;
      else {
        const busy = m.loops.filter(Boolean).length;
        if (busy === 0) {
          w.idle += ticks;
          m.idleFor += ticks;
        } else if (queue.length) w.starved += (ticks * (o.loops - busy)) / o.loops;
        else w.partial += (ticks * (o.loops - busy)) / o.loops;
      }
    }
  };

  const remaining = (task: NonNullable<Machine["loops"][number]>, t: number) =>
    o.knownRemaining?.from === "age" ? meanRemaining(t - task.startedAt, o.medianSeconds, o.sigma) : task.endsAt - t;
  /** Seconds until the last task of `m` other than loop `skip` ends (0 when none runs). */
  const runsFor = (m: Machine, t: number, skip = -1) =>
    m.loops.reduce((most, task, i) => (task && i !== skip ? Math.max(most, remaining(task, t)) : most), 0);
  const holdsBack = (m: Machine, loop: number, t: number): boolean => {
    const k = o.knownRemaining;
    if (!k || queue.length > k.queuedAtMost || runsFor(m, t, loop) >= k.belowS) return false;
    return running().some((x) => x !== m && x.noticeAt === undefined && t >= x.readyAt && runsFor(x, t) >= k.belowS);
  };

  let t = 0;
  for (; ; t++) {
    for (const m of running()) {
      // Spot notice: tasks handed back at once, the machine ends 2 minutes later.
      if (m.noticeAt !== undefined && t >= m.noticeAt) {
        if (t === m.noticeAt) {
          interrupted++;
          for (const [i, task] of m.loops.entries())
            if (task) {
              w.lost += (t - task.startedAt) / o.loops;
              queue.push(task.group);
              m.loops[i] = undefined;
            }
        }
        if (t >= m.noticeAt + NOTICE_SECONDS) end(m, t);
        else w.notice++;
        continue;
      }
      if (t < m.readyAt) {
        w.boot++;
        continue;
      }
      for (const [i, task] of m.loops.entries()) {
        if (task && task.endsAt <= t) {
          busyLoopSeconds += task.endsAt - task.startedAt;
          completed++;
          m.loops[i] = undefined;
        }
        if (!m.loops[i] && queue.length && !holdsBack(m, i, t)) {
          const group = queue.pop()!;
          m.loops[i] = { group, startedAt: t, endsAt: t + durations[group]! };
        }
      }
      const busy = m.loops.filter(Boolean).length;
      if (busy === 0) w.idle++;
      else if (queue.length) w.starved += (o.loops - busy) / o.loops;
      else w.partial += (o.loops - busy) / o.loops;
      m.idleFor = busy ? 0 : m.idleFor + 1;
      if (o.knownRemaining && busy === 0 && queue.length) {
        end(m, t);
        byTail++;
        target = Math.max(0, target - 1);
        continue;
      }
      if (m.idleFor >= ALARM_IDLE_SECONDS) {
        end(m, t);
        byAlarm++;
      }
    }

    if (t === nextReading) {
      const live = running();
      const inFlight = live.reduce((n, m) => n + m.loops.filter(Boolean).length, 0);
      const reading: Reading = {
        at: t * 1000,
        visible: queue.length,
        inFlight,
        dlq: 0,
        fleet: { target, fulfilled: live.length, state: "active" },
        live: live.map((m) => ({ id: m.id, launchedAt: m.launchedAt * 1000 })),
      };
      observations = observe(observations, reading);
      if (shouldTearDown(observations)) {
        for (const m of live) end(m, t);
        break;
      }
      const change = planTarget({
        now: t * 1000,
        visible: reading.visible,
        inFlight,
        liveInstances: live.length,
        target,
        cheapest: false,
        observations,
      });
      if (change) target = change.to;
      if (o.policy === "dcp") {
        const open = new Map(live.map((m) => [m.id, m.loops.filter(Boolean).length]));
        const decision = planTail({
          now: t * 1000,
          visible: reading.visible,
          inFlight,
          knownWork: observations.progress.total,
          live: live.map((m) => m.id),
          openByInstance: open,
          target,
          quietSince,
          doneRatePerMs: doneRatePerMs(observations.samples),
          bootMs: o.bootSeconds * 1000,
        });
        quietSince = decision.quietSince;
        target = decision.target ?? target;
        if (decision.terminate.length) {
          for (const id of decision.terminate) {
            const m = live.find((x) => x.id === id)!;
            if (m.loops.some(Boolean)) tailKilledBusy++;
            // terminated after the monitor's confirming listing (TAIL_CONFIRM_MS), paid (idle) until then
            end(m, t + TAIL_CONFIRM_MS / 1000);
            w.idle += TAIL_CONFIRM_MS / 1000;
            byTail++;
          }
        }
      }
      // The monitor's next reading: the tail reads faster (plan/monitor-tail.ts readingDelayMs); DCP every minute.
      nextReading += o.policy === "dcp" ? readingDelayMs(reading, quietSince, o.pollSeconds) / 1000 : o.pollSeconds;
    }
    // The fleet (maintain) replaces what it lost while below its target.
    const alive = running().length;
    for (let i = alive; i < target; i++) launch(t);
    if (t > 1e7) throw new Error("simulation did not finish");
    // Until the next event nothing changes: count the ticks in between as the 1-second loop would, at once.
    const next = nextEvent(t);
    if (next > t + 1) {
      skip(t, next - t - 1);
      t = next - 1;
    }
  }
  const paid = machines.reduce((s, m) => s + Math.max(MIN_BILLED_SECONDS, (m.endedAt ?? t) - m.launchedAt), 0);
  const hours = (x: number) => x / 3600;
  const counted = w.boot + w.notice + w.lost + w.partial + w.idle + w.starved;
  const waste: Waste = {
    boot: hours(w.boot),
    notice: hours(w.notice),
    lost: hours(w.lost),
    partial: hours(w.partial),
    idle: hours(w.idle),
    starved: hours(w.starved),
    other: hours(paid - busyLoopSeconds / o.loops - counted),
  };
  return {
    policy: o.policy,
    paidHours: paid / 3600,
    busyHours: busyLoopSeconds / o.loops / 3600,
    wallSeconds: t,
    machinesLaunched: machines.length,
    interrupted,
    byTail,
    byAlarm,
    tailKilledBusy,
    completed,
    waste,
  };
}
