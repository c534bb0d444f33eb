import { Argument, type Command } from "commander";
import { commandConfig, commandOutput, globalOptions, withExamples } from "./shared.js";

const PRINCIPAL_CHOICES = ["operator", "worker", "fleet", "instance"];

export function registerIam(program: Command): void {
  const iam = program
    .command("iam")
    .summary("least-privilege policies, and the roles a run needs")
    .description(
      "The IAM policies dcp needs, generated from one table of the calls each command and the worker make, " +
        "scoped to this app's queues, buckets, log groups and dcp:app tag; and the roles (task role, instance " +
        "role and profile, fleet role, service-linked roles) created or reconciled like `dcp setup`.",
    );
  withExamples(iam, [
    "dcp iam create --write-config",
    "dcp iam policy operator > operator-policy.json",
    "dcp iam policy worker --json | jq '.Statement[].Action'",
    "dcp iam delete",
  ]);

  const policy = iam
    .command("policy")
    .summary("print the least-privilege policy of one principal")
    .description(
      "Print the IAM policy document of one principal: operator (you, running setup, submit, start-cluster, " +
        "monitor, teardown, doctor, iam), worker (the task role), fleet (the Spot Fleet role) or instance " +
        '(the instance role). The account comes from your credentials ("*" when they cannot be read).',
    )
    .addArgument(new Argument("<principal>", "operator, worker, fleet or instance").choices(PRINCIPAL_CHOICES))
    .option(
      "--commands <list>",
      'operator only: the commands to cover, comma-separated, or "all" (default: all but iam create/delete)',
    )
    .option("--json", "print the document alone on stdout (progress lines go to stderr)")
    .action(async (principal: string, options: { commands?: string }, cmd: Command) => {
      const config = await commandConfig(cmd);
      const { runIamPolicy } = await import("../flows/iam.js");
      await runIamPolicy(config, principal as "operator", options.commands, commandOutput(cmd));
    });
  withExamples(policy, [
    "dcp iam policy operator",
    "dcp iam policy worker --json > worker-policy.json",
    "dcp iam policy operator --commands submit,monitor",
    "dcp iam policy operator --commands all   # also iam create/delete (an administrator's)",
    "aws iam put-user-policy --user-name me --policy-name dcp --policy-document file://<(dcp iam policy operator)",
  ]);

  const create = iam
    .command("create")
    .summary("create or reconcile the roles, tagged dcp:app")
    .description(
      "Create, or bring in line, the task role <APP_NAME>TaskRole (trusted by ecs-tasks, with the worker policy), " +
        "the instance role and profile <APP_NAME>InstanceRole (trusted by ec2, with AmazonEC2ContainerServiceforEC2Role), " +
        "the fleet role <APP_NAME>FleetRole (trusted by spotfleet, with AmazonEC2SpotFleetTaggingRole), and the " +
        "Spot Fleet / EC2 Fleet service-linked roles when missing. Safe to re-run: a second run changes nothing.",
    )
    .option("--write-config", "write TASK_ROLE_ARN into the config file")
    .option("--json", "print the summary as JSON on stdout")
    .action(async (options: { writeConfig?: boolean }, cmd: Command) => {
      const config = await commandConfig(cmd);
      const { runIamCreate } = await import("../flows/iam.js");
      await runIamCreate(
        config,
        { writeConfig: Boolean(options.writeConfig), configPath: globalOptions(cmd).config },
        commandOutput(cmd),
      );
    });
  withExamples(create, ["dcp iam create", "dcp iam create --write-config", "dcp iam create --json | jq .fleetRoleArn"]);

  const del = iam
    .command("delete")
    .summary("delete the roles `dcp iam create` made")
    .description(
      "Delete this app's task role, instance profile, instance role and fleet role (policies detached first). " +
        "The service-linked roles are shared by the account and kept.",
    )
    .option("--json", "print what was deleted as JSON on stdout")
    .action(async (_options: unknown, cmd: Command) => {
      const config = await commandConfig(cmd);
      const { runIamDelete } = await import("../flows/iam.js");
      await runIamDelete(config, commandOutput(cmd));
    });
  withExamples(del, ["dcp iam delete", "dcp --config config/plate1.json iam delete --json"]);
}
