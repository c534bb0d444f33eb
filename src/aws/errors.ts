// Temporary: replaced by the full classification module on merge.
import { endpointOverridden } from "./context.js";

export function isNotFound(err: unknown): boolean {
  const name = (err as { name?: string; Code?: string }).name ?? "";
  return /NotFound|DoesNotExist|Malformed/i.test(name);
}

export function isUnsupported(err: unknown, service: string): boolean {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  if (/NotImplemented|InvalidAction|UnsupportedOperation/i.test(e.name ?? "")) return true;
  const status = e.$metadata?.httpStatusCode ?? 0;
  return (
    endpointOverridden(service) &&
    status >= 500 &&
    /not (been )?implemented|XML parse error|Deserialization error/i.test(e.message ?? "")
  );
}
