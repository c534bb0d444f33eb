import {
  DescribeLogGroupsCommand,
  ListTagsForResourceCommand,
  PutRetentionPolicyCommand,
} from "@aws-sdk/client-cloudwatch-logs";
import { describe, expect, it } from "vitest";
import { ensureLogGroups, findLogGroup, logsClient } from "../src/aws/logs.js";
import { uniqueAppName } from "./harness/dcp.js";

const ctx = { region: "us-east-1", profile: undefined };

describe("ensureLogGroups", () => {
  it("creates both groups with retention and the app tag, then reports them unchanged, then fixes drift", async () => {
    const app = uniqueAppName("Logs");
    const config = { APP_NAME: app, LOG_GROUP_NAME: `${app}Grp`, LOG_RETENTION_DAYS: 30 as const };
    const first = await ensureLogGroups(ctx, config);
    expect(first.map((r) => [r.name, r.status])).toEqual([
      [`${app}Grp`, "created"],
      [`${app}Grp_perInstance`, "created"],
    ]);
    const client = logsClient(ctx);
    for (const name of [`${app}Grp`, `${app}Grp_perInstance`]) {
      const group = await findLogGroup(client, name);
      expect(group?.retentionInDays).toBe(30);
      const tags = await client.send(new ListTagsForResourceCommand({ resourceArn: group!.logGroupArn! }));
      expect(tags.tags).toMatchObject({ "dcp:app": app });
    }
    // A prefix match must not be taken for the group itself.
    const groups = await client.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: `${app}Grp` }));
    expect(groups.logGroups).toHaveLength(2);

    const second = await ensureLogGroups(ctx, config);
    expect(second.map((r) => r.status)).toEqual(["unchanged", "unchanged"]);

    await client.send(new PutRetentionPolicyCommand({ logGroupName: `${app}Grp`, retentionInDays: 7 }));
    const third = await ensureLogGroups(ctx, config);
    expect(third[0]).toMatchObject({ status: "updated", changes: ["retention 7 -> 30 days"] });
    expect(third[1]?.status).toBe("unchanged");
  });
});
