/** What a run's instances cost: their observed hours priced with the spot price history. */
import { spotPriceHistory } from "../aws/ec2.js";
import { estimateCost, observedTypes, type CostEstimate, type PricePoint } from "../plan/monitor-cost.js";
import type { Observations } from "../plan/monitor-observations.js";
import type { RunClients } from "./clients.js";

export async function priceEstimate(
  clients: Pick<RunClients, "ec2">,
  observations: Observations | undefined,
  startedAt: Date,
  endAt: number,
): Promise<{ estimate: CostEstimate; problem?: string }> {
  const instances = observations?.instances ?? {};
  const types = observedTypes(instances);
  let prices: PricePoint[] | undefined;
  let problem: string | undefined;
  if (types.length) {
    try {
      prices = await spotPriceHistory(clients.ec2, types, startedAt, new Date(endAt));
    } catch (err) {
      problem =
        `DescribeSpotPriceHistory failed: ${(err as { name?: string }).name ?? ""} ${(err as Error).message ?? ""}`.trim();
    }
  }
  return { estimate: estimateCost(instances, prices, endAt), ...(problem ? { problem } : {}) };
}
