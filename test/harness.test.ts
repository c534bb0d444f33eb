import { CreateQueueCommand, GetQueueUrlCommand, SendMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { ListClustersCommand } from "@aws-sdk/client-ecs";
import { describe, expect, it } from "vitest";
import { ecsClient } from "../src/aws/ecs.js";
import { sqsClient } from "../src/aws/sqs.js";
import { emulatorEnv, uniqueAppName } from "./harness/dcp.js";

describe("test harness", () => {
  it("points the SDK at two emulators through its own endpoint variables", async () => {
    const env = emulatorEnv();
    expect(env.AWS_ENDPOINT_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(env.AWS_ENDPOINT_URL_SQS).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(env.AWS_ENDPOINT_URL).not.toBe(env.AWS_ENDPOINT_URL_SQS);
    const ctx = { region: "us-east-1", profile: undefined };
    const sqs = sqsClient(ctx);
    const name = uniqueAppName("Q");
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
    expect((await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl).toBe(QueueUrl);
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "hello" }));
    const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1 }));
    expect(received.Messages?.[0]?.Body).toBe("hello");
    const clusters = await ecsClient(ctx).send(new ListClustersCommand({}));
    expect(Array.isArray(clusters.clusterArns)).toBe(true);
  });
});
