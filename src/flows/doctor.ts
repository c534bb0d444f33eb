/**
 * `dcp doctor [job.json] [fleet.json]`: read-only checks of everything a run needs, run concurrently,
 * each a ✔/✖/! line with what was checked and, for a failure, the exact fix. Nothing is created: every
 * call is a Get/Describe/List/Head (test/doctor.test.ts asserts it from the recorded calls).
 * The cheap part (credentials, region, the roles named in the config) is src/run/preflight.ts, which `dcp setup` runs first.
 */
import { awsContext, type AwsContext } from "../aws/context.js";
import {
  describeImage,
  describeSecurityGroups,
  describeSubnets,
  ec2Client,
  instanceTypeSizes,
  instanceTypeZones,
} from "../aws/ec2.js";
import {
  getInstanceProfile,
  getRole,
  iamClient,
  isAccessDenied,
  managedPolicyDocument,
  rolePolicies,
  userBoundary,
  serviceLinkedRoleExists,
  userPolicies,
} from "../aws/iam.js";
import { ecrClient, ecrImageExists } from "../aws/ecr.js";
import { bucketRegion, objectExists, objectText, s3Client } from "../aws/s3.js";
import { SPOT_STANDARD_VCPU_QUOTA, serviceQuota, serviceQuotasClient } from "../aws/service-quotas.js";
import { resolvePublicAmi, ssmClient } from "../aws/ssm.js";
import type { CallerIdentity } from "../aws/sts.js";
import { effectiveBuckets, type Config } from "../config/schema.js";
import { UserInputError } from "../errors.js";
import {
  callerPrincipal,
  couldNotCheck,
  ecrImage,
  evaluateAllows,
  fail,
  fitCheck,
  visibilityCheck,
  formatCheck,
  iamName,
  ok,
  report,
  warn,
  type Check,
  type DoctorReport,
} from "../plan/doctor.js";
import { AUTO_IMAGE, parseFleetFile, type FleetFile } from "../plan/fleet-file.js";
import { ECS_AMI_PARAMETERS } from "../plan/fleet-request.js";
import {
  ECS_INSTANCE_POLICY,
  SERVICE_LINKED_ROLES,
  SPOT_FLEET_TAGGING_POLICY,
  grantsFor,
  type OperatorCommand,
} from "../plan/iam-policy.js";
import { checkJobFile, jobFileMessages } from "../submit/job-reader.js";
import { looseText } from "../plan/make-jobs/csv-match.js";
import type { DcpMessage } from "../plan/message.js";
import type { Output } from "../ui/output.js";
import { readJsonFile } from "../validation.js";
import { IAM_CREATE, errorText, guarded, preflight, roleCheck } from "../run/preflight.js";
import { parseCsv, type Table } from "../worker/datafile.js";
import { groupPairs, sameMetadataValue } from "../worker/naming.js";

// --- operator permissions -------------------------------------------------------------------------------

async function operatorCheck(ctx: AwsContext, config: Config, identity: CallerIdentity): Promise<Check> {
  const subject = "your permissions";
  const principal = callerPrincipal(identity.arn);
  if (principal.kind === "root")
    return warn(
      subject,
      "you are the account's root user: everything is allowed",
      "use an IAM user or role with `dcp iam policy operator`",
    );
  if (principal.kind === "other") return couldNotCheck(subject, `${identity.arn} is neither an IAM user nor a role`);
  const iam = iamClient(ctx);
  let policies;
  let boundary: string | undefined;
  try {
    [policies, boundary] = await Promise.all([
      principal.kind === "user" ? userPolicies(iam, principal.name) : rolePolicies(iam, principal.name),
      principal.kind === "user"
        ? userBoundary(iam, principal.name)
        : getRole(iam, principal.name).then((r) => r?.boundary),
    ]);
  } catch (err) {
    return couldNotCheck(
      subject,
      `cannot read the policies of ${principal.kind} ${principal.name} (${errorText(err)}); moto and most accounts do not answer IAM SimulatePrincipalPolicy either`,
    );
  }
  const documents = [
    ...policies.inline.map((p) => p.document),
    ...(await Promise.all(policies.attached.map((p) => managedPolicyDocument(iam, p.arn)))),
  ];
  const run: OperatorCommand[] = ["setup", "make-jobs", "submit", "start-cluster", "monitor", "teardown"];
  const needed = [...new Set(grantsFor("operator", run).flatMap((g) => g.actions))];
  const verdict = evaluateAllows(documents, needed);
  if (boundary) verdict.unsure.push(`a permission boundary (${iamName(boundary)})`);
  // An organisation SCP or a boundary may deny RequestSpotFleet (Control Tower control CT.EC2.PV.6); EC2 Fleet is the way round.
  const spotFleetHint =
    config.FLEET_API === "spot-fleet"
      ? '; if a boundary or an SCP denies ec2:RequestSpotFleet, set "FLEET_API": "ec2-fleet" in the config'
      : "";
  if (verdict.missing.length && verdict.unsure.length === 0 && principal.kind === "role")
    return fail(
      subject,
      `${principal.kind} ${principal.name} cannot ${verdict.missing.slice(0, 8).join(", ")}${verdict.missing.length > 8 ? ` and ${verdict.missing.length - 8} more` : ""}`,
      `attach the policy printed by \`dcp iam policy operator\`${spotFleetHint}`,
    );
  if (verdict.missing.length)
    return warn(
      subject,
      `could not verify: ${principal.kind} ${principal.name}'s own policies do not grant ${verdict.missing.slice(0, 5).join(", ")}${verdict.missing.length > 5 ? ` and ${verdict.missing.length - 5} more` : ""}${principal.kind === "user" ? " (group policies are not read)" : ""}`,
      `attach the policy printed by \`dcp iam policy operator\`${spotFleetHint}`,
    );
  if (verdict.unsure.length)
    return warn(
      subject,
      `could not verify: the policies use ${verdict.unsure.join(", ")}; every action is allowed by some statement`,
      spotFleetHint ? spotFleetHint.slice(2) : undefined,
    );
  return ok(
    subject,
    `${principal.kind} ${principal.name} is allowed the ${needed.length} actions setup, submit, start-cluster, monitor and teardown call (an organisation's SCPs cannot be read from here)`,
  );
}

// --- fleet file -----------------------------------------------------------------------------------------

interface FleetFacts {
  subnets: string[];
  groups: string[];
  imageId: string | undefined;
  profile: string | undefined;
}

function fleetFacts(fleet: FleetFile): FleetFacts {
  const subnets = new Set<string>();
  const groups = new Set<string>();
  for (const spec of fleet.LaunchSpecifications) {
    for (const id of (spec.SubnetId ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean))
      subnets.add(id);
    for (const ni of spec.NetworkInterfaces ?? []) {
      if (ni.SubnetId) subnets.add(ni.SubnetId);
      for (const g of ni.Groups ?? []) groups.add(g);
    }
    for (const g of spec.SecurityGroups ?? []) if (g.GroupId) groups.add(g.GroupId);
  }
  const first = fleet.LaunchSpecifications[0];
  const profile =
    first?.IamInstanceProfile?.Name ??
    (first?.IamInstanceProfile?.Arn ? iamName(first.IamInstanceProfile.Arn) : undefined);
  return { subnets: [...subnets], groups: [...groups], imageId: first?.ImageId, profile };
}

async function networkChecks(ctx: AwsContext, config: Config, facts: FleetFacts, fleetPath: string): Promise<Check[]> {
  const ec2 = ec2Client(ctx);
  const checks: Check[] = [];
  const [subnets, groups] = await Promise.all([
    describeSubnets(ec2, facts.subnets),
    describeSecurityGroups(ec2, facts.groups),
  ]);
  const missingSubnets = facts.subnets.filter((s) => !subnets.has(s));
  if (missingSubnets.length)
    checks.push(
      fail(
        `subnets in ${fleetPath}`,
        `${missingSubnets.join(", ")} not found in ${config.AWS_REGION}`,
        `use subnets of ${config.AWS_REGION} (\`aws ec2 describe-subnets --region ${config.AWS_REGION}\`), or set AWS_REGION to the subnets' region`,
      ),
    );
  const vpcs = new Set([...subnets.values()].map((s) => s.vpcId));
  if (vpcs.size > 1)
    checks.push(
      fail(`subnets in ${fleetPath}`, `belong to several VPCs (${[...vpcs].join(", ")})`, "use subnets of one VPC"),
    );
  else if (!missingSubnets.length && facts.subnets.length)
    checks.push(
      ok(
        `subnets in ${fleetPath}`,
        `${facts.subnets.join(", ")} in ${[...vpcs][0]} (zones ${[...new Set([...subnets.values()].map((s) => s.zone))].join(", ")})`,
      ),
    );
  const missingGroups = facts.groups.filter((g) => !groups.has(g));
  const vpc = [...vpcs][0];
  const foreign = [...groups.values()].filter((g) => vpc && g.vpcId !== vpc);
  if (missingGroups.length)
    checks.push(
      fail(
        `security groups in ${fleetPath}`,
        `${missingGroups.join(", ")} not found in ${config.AWS_REGION}`,
        `use a security group of VPC ${vpc ?? "of the subnets"}`,
      ),
    );
  else if (foreign.length)
    checks.push(
      fail(
        `security groups in ${fleetPath}`,
        `${foreign.map((g) => `${g.id} is in ${g.vpcId}`).join(", ")}, not in the subnets' VPC ${vpc}`,
        `use a security group of ${vpc} (\`aws ec2 describe-security-groups --filters Name=vpc-id,Values=${vpc}\`)`,
      ),
    );
  else if (facts.groups.length)
    checks.push(ok(`security groups in ${fleetPath}`, `${facts.groups.join(", ")} in ${vpc ?? "the subnets' VPC"}`));

  const zones = [...new Set([...subnets.values()].map((s) => s.zone))];
  if (zones.length) {
    const offered = await instanceTypeZones(ec2, config.MACHINE_TYPE, zones);
    const notOffered = config.MACHINE_TYPE.filter((t) => !offered.get(t)?.size);
    if (notOffered.length)
      checks.push(
        fail(
          "MACHINE_TYPE",
          `${notOffered.join(", ")} not offered in ${zones.join(", ")}`,
          `choose types offered there (\`aws ec2 describe-instance-type-offerings --location-type availability-zone --filters Name=location,Values=${zones.join(",")}\`) or other subnets`,
        ),
      );
    else checks.push(ok("MACHINE_TYPE", `${config.MACHINE_TYPE.join(", ")} offered in ${zones.join(", ")}`));
  }
  return checks;
}

async function imageCheck(ctx: AwsContext, imageId: string | undefined, fleetPath: string): Promise<Check> {
  const subject = `AMI in ${fleetPath}`;
  let id = imageId;
  let via = "";
  if (!id || id === AUTO_IMAGE) {
    const resolved = await resolvePublicAmi(ssmClient(ctx), ECS_AMI_PARAMETERS);
    id = resolved.imageId;
    via = ` (auto: ${resolved.parameter})`;
  }
  const image = await describeImage(ec2Client(ctx), id);
  if (!image)
    return fail(
      subject,
      `${id} does not exist in ${ctx.region}`,
      `set "ImageId": "auto" (the current ECS-optimized AMI) or an AMI id of ${ctx.region}`,
    );
  if (!/ecs/i.test(`${image.name} ${image.description}`))
    return warn(
      subject,
      `${id} (${image.name || "no name"}) does not look ECS-optimized: its instances may never join the cluster`,
      'set "ImageId": "auto"',
    );
  return ok(subject, `${id} ${image.name}${via}`);
}

async function capacityChecks(ctx: AwsContext, config: Config): Promise<Check[]> {
  const ec2 = ec2Client(ctx);
  const sizes = await instanceTypeSizes(ec2, config.MACHINE_TYPE);
  const known = config.MACHINE_TYPE.filter((t) => sizes.has(t)).map((t) => ({ type: t, ...sizes.get(t)! }));
  const checks: Check[] = [];
  const unknown = config.MACHINE_TYPE.filter((t) => !sizes.has(t));
  if (unknown.length)
    checks.push(
      fail(
        "MACHINE_TYPE",
        `${unknown.join(", ")} is not an instance type EC2 knows`,
        "use instance type names such as m5.xlarge",
      ),
    );
  if (!known.length) return checks;
  const smallest = known.reduce((a, b) => (b.memoryMiB < a.memoryMiB ? b : a));
  const fit = fitCheck(smallest, config.MEMORY, config.CPU_SHARES, config.TASKS_PER_MACHINE);
  checks.push(
    fit.fits
      ? ok("MEMORY and CPU_SHARES", `fit: ${fit.detail}`)
      : fail(
          "MEMORY and CPU_SHARES",
          `do not fit: ${fit.detail}; ECS would never place the tasks`,
          `lower MEMORY (or TASKS_PER_MACHINE), or remove ${smallest.type} from MACHINE_TYPE`,
        ),
  );
  const largest = Math.max(...known.map((k) => k.vcpus));
  const requested = largest * config.CLUSTER_MACHINES;
  try {
    const quota = await serviceQuota(serviceQuotasClient(ctx), "ec2", SPOT_STANDARD_VCPU_QUOTA);
    if (quota === undefined)
      checks.push(
        couldNotCheck(
          "Spot vCPU quota",
          `Service Quotas does not answer ${SPOT_STANDARD_VCPU_QUOTA} here; the fleet needs up to ${requested} vCPUs`,
        ),
      );
    else if (quota < requested)
      checks.push(
        fail(
          "Spot vCPU quota",
          `the fleet needs up to ${requested} vCPUs (${config.CLUSTER_MACHINES} × ${largest}), the account's quota ${SPOT_STANDARD_VCPU_QUOTA} is ${quota}`,
          `lower CLUSTER_MACHINES to ${Math.max(1, Math.floor(quota / largest))}, or request more: aws service-quotas request-service-quota-increase --service-code ec2 --quota-code ${SPOT_STANDARD_VCPU_QUOTA} --desired-value ${requested}`,
        ),
      );
    else
      checks.push(
        ok("Spot vCPU quota", `${requested} vCPUs needed (${config.CLUSTER_MACHINES} × ${largest}), quota ${quota}`),
      );
  } catch (err) {
    checks.push(couldNotCheck("Spot vCPU quota", errorText(err)));
  }
  return checks;
}

function fleetChecks(ctx: AwsContext, config: Config, fleet: FleetFile, fleetPath: string): Promise<Check[]>[] {
  const facts = fleetFacts(fleet);
  const out: Promise<Check[]>[] = [
    guarded(`network of ${fleetPath}`, () => networkChecks(ctx, config, facts, fleetPath)),
    guarded(`AMI in ${fleetPath}`, () => imageCheck(ctx, facts.imageId, fleetPath)),
  ];
  if (config.FLEET_API === "spot-fleet")
    out.push(
      guarded("fleet role", () =>
        roleCheck(ctx, {
          subject: "fleet role",
          name: iamName(fleet.IamFleetRole),
          service: "spotfleet.amazonaws.com",
          managedPolicy: SPOT_FLEET_TAGGING_POLICY,
          fix: `${IAM_CREATE}, and set "IamFleetRole" in ${fleetPath} to the fleet role it prints`,
        }),
      ),
    );
  if (facts.profile)
    out.push(guarded(`instance profile ${facts.profile}`, () => instanceProfileCheck(ctx, facts.profile!, fleetPath)));
  else
    out.push(
      Promise.resolve([
        fail(
          "instance profile",
          `${fleetPath} names none`,
          `add "IamInstanceProfile": {"Arn": "..."} (\`dcp iam create\` prints it)`,
        ),
      ]),
    );
  return out;
}

async function instanceProfileCheck(ctx: AwsContext, name: string, fleetPath: string): Promise<Check> {
  const subject = `instance profile ${name}`;
  const profile = await getInstanceProfile(iamClient(ctx), name);
  if (!profile)
    return fail(
      subject,
      "does not exist",
      `${IAM_CREATE}, and set "IamInstanceProfile": {"Arn": ...} in ${fleetPath} to the profile it prints`,
    );
  const role = profile.roles[0];
  if (!role)
    return fail(
      subject,
      "holds no role",
      `aws iam add-role-to-instance-profile --instance-profile-name ${name} --role-name <an ECS instance role> (or \`dcp iam create\`)`,
    );
  const roleResult = await roleCheck(ctx, {
    subject: `instance role`,
    name: role,
    service: "ec2.amazonaws.com",
    managedPolicy: ECS_INSTANCE_POLICY,
    fix: IAM_CREATE,
  });
  return roleResult.status === "ok"
    ? ok(subject, `role ${role} trusted by ec2.amazonaws.com, with AmazonEC2ContainerServiceforEC2Role`)
    : { ...roleResult, subject: `${subject}: ${roleResult.subject}` };
}

/** Spot Fleet needs its own and EC2 Spot's service-linked roles; EC2 Fleet its own (aws-behaviour "IAM a run needs"). */
const SERVICE_LINKED: Record<Config["FLEET_API"], readonly string[]> = {
  "spot-fleet": ["spotfleet.amazonaws.com", "spot.amazonaws.com"],
  "ec2-fleet": ["ec2fleet.amazonaws.com"],
};

function serviceLinkedChecks(ctx: AwsContext, config: Config): Promise<Check[]>[] {
  return SERVICE_LINKED[config.FLEET_API].map((service) => {
    const name = SERVICE_LINKED_ROLES.find((r) => r.service === service)?.name ?? service;
    const subject = `service-linked role ${name}`;
    return guarded(subject, async () => {
      try {
        if (await serviceLinkedRoleExists(iamClient(ctx), service)) return ok(subject, "exists");
        return fail(
          subject,
          `missing: ${config.FLEET_API} requests fail without it`,
          `\`dcp iam create\` (or \`aws iam create-service-linked-role --aws-service-name ${service}\`)`,
        );
      } catch (err) {
        if (isAccessDenied(err)) return couldNotCheck(subject, "your credentials may not call iam:ListRoles");
        throw err;
      }
    });
  });
}

// --- the worker image -------------------------------------------------------------------------------------

async function imageOfWorkersCheck(ctx: AwsContext, config: Config): Promise<Check> {
  const subject = `worker image ${config.DOCKERHUB_TAG}`;
  const ecr = ecrImage(config.DOCKERHUB_TAG);
  if (!ecr)
    return couldNotCheck(
      subject,
      "not on ECR (a public registry such as Docker Hub): the instances pull it themselves",
    );
  const exists = await ecrImageExists(
    ecrClient({ ...ctx, region: ecr.region }),
    ecr.registryId,
    ecr.repository,
    ecr.tag,
  );
  return exists
    ? ok(subject, `exists in ECR (${ecr.region})`)
    : fail(
        subject,
        `not found in ECR repository ${ecr.repository} of ${ecr.registryId} (${ecr.region}): no instance could start a worker`,
        `push it (\`docker push ${config.DOCKERHUB_TAG}\`) or fix DOCKERHUB_TAG in the config`,
      );
}

// --- buckets and the job --------------------------------------------------------------------------------

function bucketChecks(ctx: AwsContext, config: Config): Promise<Check[]>[] {
  const b = effectiveBuckets(config);
  const roles = new Map<string, string[]>();
  const add = (bucket: string, role: string) => roles.set(bucket, [...(roles.get(bucket) ?? []), role]);
  add(config.AWS_BUCKET, "AWS_BUCKET");
  add(b.source, "SOURCE_BUCKET");
  add(b.workspace, "WORKSPACE_BUCKET");
  add(b.destination, "DESTINATION_BUCKET");
  const s3 = s3Client(ctx);
  return [...roles].map(([bucket, keys]) => {
    const subject = `bucket ${bucket} (${[...new Set(keys)].join(", ")})`;
    return guarded(subject, async () => {
      const region = await bucketRegion(s3, bucket);
      if (!region)
        return fail(
          subject,
          "does not exist (or is not visible to these credentials)",
          `create it (\`aws s3 mb s3://${bucket} --region ${config.AWS_REGION}\`) or fix ${keys[0]} in the config`,
        );
      if (region !== config.AWS_REGION)
        return warn(
          subject,
          `is in ${region}, the run in ${config.AWS_REGION}: it works, but every byte read or written costs inter-region transfer`,
          `use a bucket in ${config.AWS_REGION}, or run in ${region}`,
        );
      return ok(subject, `exists in ${region}`);
    });
  });
}

/** Where a LoadData PathName under the mount root lives in the source bucket. */
function keyUnderMount(pathName: string, fileName: string, mountRoot: string): string | undefined {
  const root = mountRoot.replace(/\/+$/, "");
  const path = pathName.replace(/\/+$/, "");
  if (path !== root && !path.startsWith(`${root}/`)) return undefined;
  const rel = path.slice(root.length).replace(/^\/+/, "");
  return rel ? `${rel}/${fileName}` : fileName;
}

const SAMPLE_GROUPS = 10;
const SAMPLE_IMAGES = 40;

async function jobChecks(ctx: AwsContext, config: Config, jobPath: string): Promise<Check[]> {
  const job = await checkJobFile(jobPath);
  const messages: DcpMessage[] = [];
  const step = Math.max(1, Math.floor(job.groups / SAMPLE_GROUPS));
  let index = 0;
  for await (const m of jobFileMessages(job)) {
    if (index % step === 0 && messages.length < SAMPLE_GROUPS) messages.push(m);
    index += 1;
  }
  const s3 = s3Client(ctx);
  const b = effectiveBuckets(config);
  const checks: Check[] = [];
  const files = [
    ...new Map(
      messages
        .flatMap(
          (m) =>
            [
              ["pipeline", m.pipeline],
              ["data_file", m.data_file],
            ] as const,
        )
        .map(([k, v]) => [`${k}\t${v}`, [k, v] as const]),
    ).values(),
  ];
  const present = new Map<string, boolean>();
  await Promise.all(
    files.map(async ([field, key]) => {
      const exists = await objectExists(s3, b.workspace, key);
      present.set(key, exists);
      checks.push(
        exists
          ? ok(`${field} ${key}`, `exists in s3://${b.workspace}`)
          : fail(
              `${field} ${key}`,
              `not found in s3://${b.workspace} (WORKSPACE_BUCKET)`,
              `upload it (\`aws s3 cp ${key.split("/").pop()} s3://${b.workspace}/${key}\`) or fix "${field}" in ${jobPath}`,
            ),
      );
    }),
  );
  const dataFiles = [...new Set(messages.map((m) => m.data_file))].filter(
    (k) => present.get(k) && k.toLowerCase().endsWith(".csv"),
  );
  const tables = new Map<string, Table>();
  await Promise.all(dataFiles.map(async (k) => tables.set(k, parseCsv(await objectText(s3, b.workspace, k), k))));
  const imageKeys = new Map<string, string>();
  let outsideMount: string | undefined;
  let groupsOk = 0;
  for (const m of messages) {
    const table = tables.get(m.data_file);
    if (!table) continue;
    const pairs = groupPairs(m.Metadata);
    const label = pairs.map(([k, v]) => `${k}=${v}`).join(",");
    const missingCols = pairs.map(([k]) => k).filter((k) => !table.header.includes(k));
    if (missingCols.length) {
      checks.push(
        fail(
          `group ${label}`,
          `${m.data_file} has no column ${missingCols.join(", ")} (columns: ${table.header.filter((h) => h.startsWith("Metadata_")).join(", ")})`,
          `group by columns of the data file, or regenerate the job with \`dcp make-jobs\``,
        ),
      );
      continue;
    }
    const cols = pairs.map(([k, v]) => [table.header.indexOf(k), v] as const);
    const rows = table.rows.filter((r) => cols.every(([i, v]) => sameMetadataValue(r[i] ?? "", v)));
    if (!rows.length) {
      const near = table.rows.find((r) => cols.every(([i, v]) => looseText(r[i] ?? "") === looseText(v)));
      const hint = near
        ? `; near miss: the data file has ${pairs.map(([k], j) => `${k}=${near[cols[j]![0]]}`).join(",")} (zero padding, case or spaces differ)`
        : "";
      checks.push(
        fail(
          `group ${label}`,
          `no LoadData row of ${m.data_file} matches${hint}`,
          near
            ? `write the values as the data file does (e.g. ${pairs.map(([k], j) => `${k}=${near[cols[j]![0]]}`).join(",")}) in ${jobPath}`
            : `fix the group's Metadata in ${jobPath}, or the data file`,
        ),
      );
      continue;
    }
    groupsOk += 1;
    const pathCols = table.header.map((h, i) => [h, i] as const).filter(([h]) => h.startsWith("PathName_"));
    for (const row of rows)
      for (const [h, i] of pathCols) {
        const fileIndex = table.header.indexOf(`FileName_${h.slice("PathName_".length)}`);
        if (fileIndex < 0 || imageKeys.size >= SAMPLE_IMAGES) continue;
        const key = keyUnderMount(row[i] ?? "", row[fileIndex] ?? "", config.MOUNT_ROOT);
        if (key) imageKeys.set(key, `${row[i]}/${row[fileIndex]}`);
        else outsideMount ??= row[i] ?? "";
      }
  }
  if (groupsOk)
    checks.push(ok("LoadData rows", `${groupsOk} of ${messages.length} sampled groups (of ${job.groups}) have rows`));
  if (outsideMount !== undefined && config.DOWNLOAD_FILES !== true)
    checks.push(
      warn(
        "images",
        `could not check some: PathName values such as "${outsideMount}" are not under MOUNT_ROOT ${config.MOUNT_ROOT}, where the workers mount s3://${b.source}`,
        `write PathName_* as ${config.MOUNT_ROOT}/<folder of the images in ${b.source}>`,
      ),
    );
  if (imageKeys.size) {
    const missing: string[] = [];
    await Promise.all([...imageKeys.keys()].map(async (k) => (await objectExists(s3, b.source, k)) || missing.push(k)));
    const mapping = `PathName under MOUNT_ROOT ${config.MOUNT_ROOT} → s3://${b.source}/<rest of the path>`;
    checks.push(
      missing.length
        ? fail(
            "images",
            `${missing.length} of ${imageKeys.size} sampled images not found (${mapping}), e.g. s3://${b.source}/${missing[0]}`,
            `upload the images, or fix PathName_* in the data file so they start with ${config.MOUNT_ROOT}/ followed by the S3 key's folder`,
          )
        : ok("images", `${imageKeys.size} sampled images exist (${mapping})`),
    );
  }
  return checks;
}

// --- files, and the whole doctor ------------------------------------------------------------------------

/** Sorts the arguments into a job file and a fleet file by content; bad files exit 2 before any AWS call. */
async function classify(
  files: readonly string[],
): Promise<{ job?: string; fleet?: { path: string; file: FleetFile } }> {
  const out: { job?: string; fleet?: { path: string; file: FleetFile } } = {};
  for (const path of files) {
    const value = await readJsonFile(path, "job or fleet file");
    if (value && typeof value === "object" && "LaunchSpecifications" in value)
      out.fleet = { path, file: parseFleetFile(value, path) };
    else if (value && typeof value === "object" && "groups" in value) {
      await checkJobFile(path);
      out.job = path;
    } else
      throw new UserInputError(
        path,
        undefined,
        'is neither a job file (with "groups") nor a fleet file (with "LaunchSpecifications")',
        "pass `dcp doctor files/job.json files/fleet.json`",
      );
  }
  return out;
}

export async function runDoctor(
  config: Config,
  configPath: string,
  files: readonly string[],
  output: Output,
): Promise<DoctorReport> {
  const inputs = await classify(files);
  const ctx = awsContext(config);
  const pre = await preflight(config);
  const pending: Promise<Check[]>[] = [];
  if (pre.identity) {
    const identity = pre.identity;
    pending.push(guarded("your permissions", () => operatorCheck(ctx, config, identity)));
    pending.push(...serviceLinkedChecks(ctx, config), ...bucketChecks(ctx, config));
    pending.push(guarded("MACHINE_TYPE", () => capacityChecks(ctx, config)));
    pending.push(guarded(`worker image ${config.DOCKERHUB_TAG}`, () => imageOfWorkersCheck(ctx, config)));
    if (inputs.fleet) pending.push(...fleetChecks(ctx, config, inputs.fleet.file, inputs.fleet.path));
    if (inputs.job) pending.push(guarded(`job ${inputs.job}`, () => jobChecks(ctx, config, inputs.job!)));
  }
  const checks = [
    ...pre.checks,
    ...(await Promise.all(pending)).flat(),
    visibilityCheck(config.SQS_MESSAGE_VISIBILITY),
  ];
  const notGiven: Array<[string, boolean, string]> = [
    ["fleet file", Boolean(inputs.fleet), "subnets, security groups, AMI, fleet role and instance profile"],
    ["job file", Boolean(inputs.job), "pipeline, data file, LoadData rows and images"],
  ];
  for (const [what, given, unchecked] of notGiven)
    if (!given)
      checks.push(
        warn(
          what,
          `not given: ${unchecked} not checked`,
          `dcp --config ${configPath} doctor files/job.json files/fleet.json`,
        ),
      );
  const result = report(checks);
  for (const c of checks) output.line(formatCheck(c));
  output.line(
    result.failed
      ? `${result.failed} problem(s) would make the run fail; fix them and run \`dcp doctor\` again.`
      : `Nothing would fail${result.warnings ? ` (${result.warnings} warning(s) above)` : ""}.`,
  );
  output.result(result);
  return result;
}
