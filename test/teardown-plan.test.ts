import { describe, expect, it } from "vitest";
import {
  clusterDecision,
  describeStep,
  planTeardown,
  type ClusterUse,
  type TeardownInput,
} from "../src/plan/teardown-plan.js";

const input: TeardownInput = {
  appName: "Run",
  cluster: "RunCluster",
  serviceName: "RunService",
  taskFamily: "RunTask",
  queueName: "RunQueue",
  deadLetterQueueName: "Run_Dead",
  fleetApi: "spot-fleet",
  fleetId: "sfr-1",
  dashboardName: "RunDashboard",
  cleanDashboard: true,
  bucket: "my-bucket",
  logGroup: "Run",
  perInstanceLogGroup: "Run_perInstance",
  startTimeMs: 1000,
  completed: [],
};

describe("teardown plan", () => {
  it("lists every step in order for a spot fleet", () => {
    expect(planTeardown(input).steps.map((s) => s.id)).toEqual([
      "scale-service",
      "delete-alarms",
      "cancel-fleet",
      "delete-queue",
      "delete-service",
      "deregister-task-definitions",
      "delete-dashboard",
      "export-logs",
      "export-instance-logs",
      "deregister-container-instances",
      "delete-cluster",
      "finish",
    ]);
  });

  it("deletes the launch template of an EC2 Fleet, keeps the default cluster and an unclean dashboard", () => {
    const plan = planTeardown({
      ...input,
      fleetApi: "ec2-fleet",
      launchTemplateId: "lt-1",
      cluster: "default",
      cleanDashboard: false,
    });
    const ids = plan.steps.map((s) => s.id);
    expect(ids.indexOf("delete-launch-template")).toBe(ids.indexOf("cancel-fleet") + 1);
    expect(ids).not.toContain("delete-cluster");
    expect(ids).not.toContain("delete-dashboard");
    expect(plan.kept.join("\n")).toMatch(/dashboard RunDashboard[\s\S]*cluster default/);
  });

  it("skips the steps a killed run already completed", () => {
    const plan = planTeardown({ ...input, completed: ["scale-service", "delete-alarms", "cancel-fleet"] });
    expect(plan.steps[0]!.id).toBe("delete-queue");
    expect(plan.completed).toEqual(["scale-service", "delete-alarms", "cancel-fleet"]);
  });

  it("exports both log groups under exportedlogs/<group> from the run's start", () => {
    const exports = planTeardown(input).steps.filter((s) => s.id === "export-logs" || s.id === "export-instance-logs");
    expect(exports).toEqual([
      { id: "export-logs", logGroup: "Run", bucket: "my-bucket", prefix: "exportedlogs/Run", fromMs: 1000 },
      {
        id: "export-instance-logs",
        logGroup: "Run_perInstance",
        bucket: "my-bucket",
        prefix: "exportedlogs/Run_perInstance",
        fromMs: 1000,
      },
    ]);
    expect(describeStep(exports[0]!)).toBe("export logs Run to s3://my-bucket/exportedlogs/Run/");
  });
});

describe("cluster decision", () => {
  const unused: ClusterUse = {
    exists: true,
    services: [],
    runningTasks: 0,
    pendingTasks: 0,
    ownTasks: 0,
    containerInstances: 0,
  };
  it("deletes an unused cluster and treats a missing one as done", () => {
    expect(clusterDecision("C", "S", unused)).toEqual({ action: "delete" });
    expect(clusterDecision("C", "S", { ...unused, exists: false })).toEqual({ action: "gone" });
  });
  it("keeps the default cluster and clusters used by something else", () => {
    expect(clusterDecision("default", "S", unused).action).toBe("keep");
    expect(clusterDecision("C", "S", { ...unused, services: ["S", "Other"] })).toEqual({
      action: "keep",
      reason: "it runs other services (Other)",
    });
    expect(clusterDecision("C", "S", { ...unused, containerInstances: 2 }).action).toBe("keep");
    expect(clusterDecision("C", "S", { ...unused, runningTasks: 3, ownTasks: 1 }).action).toBe("keep");
  });
  it("waits while its own service drains", () => {
    expect(clusterDecision("C", "S", { ...unused, services: ["S"], runningTasks: 1, ownTasks: 1 }).action).toBe("wait");
  });
});
