/**
 * Client tokens for the create calls of a run. A create whose answer is lost (timeout, a 500 after
 * the service acted) is retried by the SDK with the same request; with a token AWS returns the
 * resource it already made instead of a second one (a second fleet is a second bill). The token is
 * derived from APP_NAME, the start attempt's nonce (saved in the state file before the call, so a
 * resumed start reuses it) and the action, so each create call of one attempt has its own.
 *
 * Limits: EC2 ClientToken up to 64 ASCII characters ("Ensuring idempotency", EC2 API reference);
 * ECS CreateService clientToken up to 36 ASCII characters in the range 33-126. 32 hex characters
 * fit both.
 */
import { createHash, randomUUID } from "node:crypto";

export function clientToken(appName: string, nonce: string, action: string): string {
  return createHash("sha256").update(`${appName}\n${nonce}\n${action}`).digest("hex").slice(0, 32);
}

/** A new start attempt's nonce. */
export function newNonce(): string {
  return randomUUID();
}
