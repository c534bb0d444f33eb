/**
 * The fleet providers dcp can buy machines through, keyed by the config's FLEET_API value. This file
 * is the only place outside the provider modules that knows their names: adding a provider is one
 * new module in src/fleet/ and one line here (docs/ARCHITECTURE.md, "Adding a fleet provider").
 *
 * Static facts only (no SDK import): the config schema and the state-file schema read the names, and
 * `dcp --help` must not load the SDK. Each provider module loads on demand.
 */
import type { AwsContext } from "../aws/context.js";
import type { FleetProvider } from "./provider.js";

export interface FleetKind {
  /** How the config's FLEET_API describes it. */
  describe: string;
  /** What teardown does to it, e.g. "cancel spot fleet". */
  cancelPhrase: string;
  /** The ids AWS gives this kind of fleet (to read a DCP monitor file, which records only the id). */
  idPattern: RegExp;
  load: () => Promise<{ createProvider(ctx: AwsContext): FleetProvider }>;
}

const KINDS = {
  "spot-fleet": {
    describe: "RequestSpotFleet, as DCP",
    cancelPhrase: "cancel spot fleet",
    idPattern: /^sfr-/,
    load: () => import("./spot-fleet.js"),
  },
  "ec2-fleet": {
    describe: "CreateFleet, type maintain",
    cancelPhrase: "delete EC2 Fleet",
    idPattern: /^fleet-/,
    load: () => import("./ec2-fleet.js"),
  },
} as const satisfies Record<string, FleetKind>;

export type FleetApi = keyof typeof KINDS;
export const FLEET_PROVIDER_NAMES = Object.keys(KINDS) as [FleetApi, ...FleetApi[]];
/** DCP's only fleet API, and so the default. */
export const DEFAULT_FLEET_PROVIDER: FleetApi = FLEET_PROVIDER_NAMES[0];

export function fleetKind(api: FleetApi): FleetKind {
  return KINDS[api];
}

/** The provider whose ids look like `id` (a DCP monitor file names only the fleet id). */
export function fleetApiOfId(id: string): FleetApi {
  return FLEET_PROVIDER_NAMES.find((api) => KINDS[api].idPattern.test(id)) ?? DEFAULT_FLEET_PROVIDER;
}

/** The fleet API a config asks for (its FLEET_API key). */
export function configuredFleetApi(config: { FLEET_API: FleetApi }): FleetApi {
  return config.FLEET_API;
}

/** The provider for `api`, with its clients for `ctx`. */
export async function fleetProvider(api: FleetApi, ctx: AwsContext): Promise<FleetProvider> {
  return (await KINDS[api].load()).createProvider(ctx);
}
