import type { ECRClient } from "@aws-sdk/client-ecr";
import { sdk } from "./sdk.js";
import { clientOptions, instrument, type AwsContext } from "./context.js";

const { ECRClient: ECRClientClass, DescribeImagesCommand } = sdk("@aws-sdk/client-ecr");

export function ecrClient(ctx: AwsContext): ECRClient {
  return instrument(new ECRClientClass(clientOptions(ctx)), "ecr");
}

/** Whether the repository holds the tag (DescribeImages); false when the repository or the image is missing. */
export async function ecrImageExists(
  client: ECRClient,
  registryId: string,
  repository: string,
  tag: string,
): Promise<boolean> {
  try {
    const out = await client.send(
      new DescribeImagesCommand({ registryId, repositoryName: repository, imageIds: [{ imageTag: tag }] }),
    );
    return (out.imageDetails ?? []).length > 0;
  } catch (err) {
    const name = (err as { name?: string }).name ?? "";
    if (name === "RepositoryNotFoundException" || name === "ImageNotFoundException") return false;
    throw err;
  }
}
