import type { IAMClient } from "@aws-sdk/client-iam";
import { sdk } from "./sdk.js";
import { clientOptions, instrument, type AwsContext } from "./context.js";

const {
  IAMClient: IAMClientClass,
  AddRoleToInstanceProfileCommand,
  AttachRolePolicyCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  CreateServiceLinkedRoleCommand,
  DeleteInstanceProfileCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetInstanceProfileCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetUserCommand,
  GetUserPolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListAttachedUserPoliciesCommand,
  ListRolesCommand,
  ListRolePoliciesCommand,
  ListUserPoliciesCommand,
  PutRolePolicyCommand,
  RemoveRoleFromInstanceProfileCommand,
  TagRoleCommand,
  UpdateAssumeRolePolicyCommand,
} = sdk("@aws-sdk/client-iam");

export function iamClient(ctx: AwsContext): IAMClient {
  return instrument(new IAMClientClass(clientOptions(ctx)), "iam");
}

const isNotFound = (err: unknown) => (err as { name?: string }).name === "NoSuchEntityException";
export const isAccessDenied = (err: unknown) =>
  /AccessDenied|UnauthorizedOperation/.test((err as { name?: string }).name ?? "");

/** IAM returns policy documents URL-encoded. */
function decodeDocument(text: string | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(decodeURIComponent(text));
  } catch {
    return JSON.parse(text);
  }
}

export interface RoleInfo {
  name: string;
  arn: string;
  trust: unknown;
  tags: Record<string, string>;
  /** The permission boundary's policy ARN, when one is set. */
  boundary?: string;
}

export async function getRole(client: IAMClient, name: string): Promise<RoleInfo | undefined> {
  try {
    const { Role } = await client.send(new GetRoleCommand({ RoleName: name }));
    return {
      name: Role?.RoleName ?? name,
      arn: Role?.Arn ?? "",
      trust: decodeDocument(Role?.AssumeRolePolicyDocument),
      tags: Object.fromEntries((Role?.Tags ?? []).map((t) => [t.Key ?? "", t.Value ?? ""])),
      ...(Role?.PermissionsBoundary?.PermissionsBoundaryArn
        ? { boundary: Role.PermissionsBoundary.PermissionsBoundaryArn }
        : {}),
    };
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export interface NamedDocument {
  name: string;
  document: unknown;
}

export interface AttachedPolicies {
  attached: { name: string; arn: string }[];
  inline: NamedDocument[];
}

async function policiesOf(
  client: IAMClient,
  listAttached: () => Promise<{ AttachedPolicies?: { PolicyName?: string; PolicyArn?: string }[] }>,
  listInline: () => Promise<{ PolicyNames?: string[] }>,
  getInline: (name: string) => Promise<{ PolicyDocument?: string }>,
): Promise<AttachedPolicies> {
  const [attached, names] = await Promise.all([listAttached(), listInline()]);
  const inline = await Promise.all(
    (names.PolicyNames ?? []).map(async (name) => ({
      name,
      document: decodeDocument((await getInline(name)).PolicyDocument),
    })),
  );
  return {
    attached: (attached.AttachedPolicies ?? []).map((p) => ({ name: p.PolicyName ?? "", arn: p.PolicyArn ?? "" })),
    inline,
  };
}

export function rolePolicies(client: IAMClient, role: string): Promise<AttachedPolicies> {
  return policiesOf(
    client,
    () => client.send(new ListAttachedRolePoliciesCommand({ RoleName: role })),
    () => client.send(new ListRolePoliciesCommand({ RoleName: role })),
    (name) => client.send(new GetRolePolicyCommand({ RoleName: role, PolicyName: name })),
  );
}

export function userPolicies(client: IAMClient, user: string): Promise<AttachedPolicies> {
  return policiesOf(
    client,
    () => client.send(new ListAttachedUserPoliciesCommand({ UserName: user })),
    () => client.send(new ListUserPoliciesCommand({ UserName: user })),
    (name) => client.send(new GetUserPolicyCommand({ UserName: user, PolicyName: name })),
  );
}

/** A user's permission boundary ARN, if any. */
export async function userBoundary(client: IAMClient, user: string): Promise<string | undefined> {
  const { User } = await client.send(new GetUserCommand({ UserName: user }));
  return User?.PermissionsBoundary?.PermissionsBoundaryArn;
}

/** The default version's document of a managed policy. */
export async function managedPolicyDocument(client: IAMClient, arn: string): Promise<unknown> {
  const { Policy } = await client.send(new GetPolicyCommand({ PolicyArn: arn }));
  const { PolicyVersion } = await client.send(
    new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: Policy?.DefaultVersionId ?? "v1" }),
  );
  return decodeDocument(PolicyVersion?.Document);
}

export async function getInstanceProfile(
  client: IAMClient,
  name: string,
): Promise<{ arn: string; roles: string[] } | undefined> {
  try {
    const { InstanceProfile } = await client.send(new GetInstanceProfileCommand({ InstanceProfileName: name }));
    return { arn: InstanceProfile?.Arn ?? "", roles: (InstanceProfile?.Roles ?? []).map((r) => r.RoleName ?? "") };
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export interface RoleRequest {
  name: string;
  trust: object;
  managedPolicyArns: readonly string[];
  inline?: { name: string; document: object };
  tags: Record<string, string>;
  description: string;
}

export interface Reconciled {
  arn: string;
  created: boolean;
  /** What was changed on an existing resource (empty: unchanged). */
  changes: string[];
}

const iamTags = (tags: Record<string, string>) => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Creates the role, or brings an existing one in line: trust, managed policies, inline policy, tags. */
export async function ensureRole(client: IAMClient, request: RoleRequest): Promise<Reconciled> {
  const existing = await getRole(client, request.name);
  const changes: string[] = [];
  let arn = existing?.arn ?? "";
  if (!existing) {
    const out = await client.send(
      new CreateRoleCommand({
        RoleName: request.name,
        AssumeRolePolicyDocument: JSON.stringify(request.trust),
        Description: request.description,
        Tags: iamTags(request.tags),
      }),
    );
    arn = out.Role?.Arn ?? "";
  } else {
    if (!sameJson(existing.trust, request.trust)) {
      await client.send(
        new UpdateAssumeRolePolicyCommand({ RoleName: request.name, PolicyDocument: JSON.stringify(request.trust) }),
      );
      changes.push("trust policy");
    }
    const missingTags = Object.entries(request.tags).filter(([k, v]) => existing.tags[k] !== v);
    if (missingTags.length) {
      await client.send(new TagRoleCommand({ RoleName: request.name, Tags: iamTags(Object.fromEntries(missingTags)) }));
      changes.push("tags");
    }
  }
  const current = existing ? await rolePolicies(client, request.name) : { attached: [], inline: [] };
  for (const policyArn of request.managedPolicyArns) {
    if (current.attached.some((p) => p.arn === policyArn)) continue;
    await client.send(new AttachRolePolicyCommand({ RoleName: request.name, PolicyArn: policyArn }));
    if (existing) changes.push(`attached ${policyArn.split("/").pop()}`);
  }
  if (request.inline) {
    const have = current.inline.find((p) => p.name === request.inline!.name);
    if (!have || !sameJson(have.document, request.inline.document)) {
      await client.send(
        new PutRolePolicyCommand({
          RoleName: request.name,
          PolicyName: request.inline.name,
          PolicyDocument: JSON.stringify(request.inline.document),
        }),
      );
      if (existing) changes.push(`inline policy ${request.inline.name}`);
    }
  }
  return { arn, created: !existing, changes };
}

export async function ensureInstanceProfile(
  client: IAMClient,
  name: string,
  role: string,
  tags: Record<string, string>,
): Promise<Reconciled> {
  const existing = await getInstanceProfile(client, name);
  let arn = existing?.arn ?? "";
  const changes: string[] = [];
  if (!existing) {
    const out = await client.send(new CreateInstanceProfileCommand({ InstanceProfileName: name, Tags: iamTags(tags) }));
    arn = out.InstanceProfile?.Arn ?? "";
  }
  if (!existing?.roles.includes(role)) {
    // An instance profile holds one role: replace a foreign one.
    for (const other of existing?.roles ?? [])
      await client.send(new RemoveRoleFromInstanceProfileCommand({ InstanceProfileName: name, RoleName: other }));
    await client.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: name, RoleName: role }));
    if (existing) changes.push(`role ${role}`);
  }
  return { arn, created: !existing, changes };
}

/**
 * Whether the service's service-linked role exists. Looked up by its path (/aws-service-role/<service>/)
 * rather than its name, which AWS fixes per service (AWSServiceRoleForEC2SpotFleet) and emulators may not.
 */
export async function serviceLinkedRoleExists(client: IAMClient, service: string): Promise<boolean> {
  const out = await client.send(new ListRolesCommand({ PathPrefix: `/aws-service-role/${service}/` }));
  return (out.Roles ?? []).length > 0;
}

/** Creates a service-linked role unless it exists; true when created. */
export async function ensureServiceLinkedRole(client: IAMClient, service: string): Promise<boolean> {
  if (await serviceLinkedRoleExists(client, service)) return false;
  try {
    await client.send(new CreateServiceLinkedRoleCommand({ AWSServiceName: service }));
    return true;
  } catch (err) {
    // Created meanwhile (or by another session): "Service role name ... has been taken in this account".
    const name = (err as { name?: string }).name ?? "";
    if (name === "EntityAlreadyExistsException" || (/InvalidInput/.test(name) && /taken|exists/i.test(String(err))))
      return false;
    throw err;
  }
}

/** Detaches and deletes everything on the role, then the role; false when it did not exist. */
export async function deleteRoleIfExists(client: IAMClient, name: string): Promise<boolean> {
  if (!(await getRole(client, name))) return false;
  const { attached, inline } = await rolePolicies(client, name);
  for (const p of attached) await client.send(new DetachRolePolicyCommand({ RoleName: name, PolicyArn: p.arn }));
  for (const p of inline) await client.send(new DeleteRolePolicyCommand({ RoleName: name, PolicyName: p.name }));
  await client.send(new DeleteRoleCommand({ RoleName: name }));
  return true;
}

export async function deleteInstanceProfileIfExists(client: IAMClient, name: string): Promise<boolean> {
  const profile = await getInstanceProfile(client, name);
  if (!profile) return false;
  for (const role of profile.roles)
    await client.send(new RemoveRoleFromInstanceProfileCommand({ InstanceProfileName: name, RoleName: role }));
  await client.send(new DeleteInstanceProfileCommand({ InstanceProfileName: name }));
  return true;
}
