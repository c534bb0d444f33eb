/**
 * The AWS SDK packages dcp uses, loaded with `require` rather than `import`.
 *
 * Why: the SDK ships CommonJS without a package "type". Node 20.19+ then loads each such entry point
 * imported from ESM three times over: `detectModuleFormat` compiles it to look for ESM syntax, the
 * CJS export lexer scans it, and the CJS loader compiles it again. For @aws-sdk/client-ec2 (a 2 MB
 * index.js) that is about 0.4 s of CPU before the first request; `require` compiles it once (measured
 * on this project's status benchmark: import 1.0 s against require 0.6 s for client-ec2 alone). The
 * objects are the same either way (one module cache), so modules that still `import` a client share it.
 *
 * Only the values come from here; types keep coming from `import type`, which costs nothing at run time.
 */
import { createRequire } from "node:module";

const load = createRequire(import.meta.url);

interface Sdks {
  "@aws-sdk/client-ec2": typeof import("@aws-sdk/client-ec2");
  "@aws-sdk/client-cloudwatch": typeof import("@aws-sdk/client-cloudwatch");
  "@aws-sdk/client-cloudwatch-logs": typeof import("@aws-sdk/client-cloudwatch-logs");
  "@aws-sdk/client-ecr": typeof import("@aws-sdk/client-ecr");
  "@aws-sdk/client-ecs": typeof import("@aws-sdk/client-ecs");
  "@aws-sdk/client-iam": typeof import("@aws-sdk/client-iam");
  "@aws-sdk/client-service-quotas": typeof import("@aws-sdk/client-service-quotas");
  "@aws-sdk/client-ssm": typeof import("@aws-sdk/client-ssm");
  "@aws-sdk/client-sts": typeof import("@aws-sdk/client-sts");
  "@aws-sdk/client-s3": typeof import("@aws-sdk/client-s3");
  "@aws-sdk/client-sqs": typeof import("@aws-sdk/client-sqs");
  "@aws-sdk/lib-storage": typeof import("@aws-sdk/lib-storage");
}

/** One SDK package's exports (loaded once, then from Node's module cache). */
export function sdk<P extends keyof Sdks>(name: P): Sdks[P] {
  return load(name) as Sdks[P];
}
