/**
 * dcp's code as users run it: the build in dist/ (`make bench` builds first), typed by src/. The
 * Makefile runs benchmarks with vite-node told to leave dist/ alone, so these load as plain Node
 * modules; through vite-node's own module transform the hot paths run about 10% slower.
 */
export async function loadDist<Module>(path: string): Promise<Module> {
  return (await import(new URL(`../dist/${path}`, import.meta.url).href)) as Module;
}
