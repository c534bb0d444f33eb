/** worker/bases.tsv: the CellProfiler base images the worker image supports, one row each. */
export interface Base {
  image: string;
  distribution: string;
  /** undefined when the table says "unconfirmed". */
  glibc: string | undefined;
  glibcxx: string | undefined;
  python: string | undefined;
  status: string;
}

const COLUMNS = ["image", "distribution", "glibc", "glibcxx", "python", "status"];

export function parseBases(text: string, source: string): Base[] {
  const rows = text.split(/\r?\n/).filter((line) => line.trim() !== "" && !line.startsWith("#"));
  const [header, ...data] = rows;
  if (header?.split("\t").join(",") !== COLUMNS.join(","))
    throw new Error(`${source}: the first row must be the header ${COLUMNS.join("<tab>")}`);
  const known = (cell: string | undefined) => (cell && cell !== "unconfirmed" ? cell : undefined);
  return data.map((line, i) => {
    const cells = line.split("\t");
    if (cells.length !== COLUMNS.length)
      throw new Error(
        `${source}: data row ${i + 1} has ${cells.length} tab-separated cells, expected ${COLUMNS.length}`,
      );
    const [image, distribution, glibc, glibcxx, python, status] = cells as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    for (const [name, value] of [
      ["glibc", glibc],
      ["glibcxx", glibcxx],
    ] as const)
      if (known(value) && !/^\d+(\.\d+)+$/.test(value))
        throw new Error(`${source}: ${image}: ${name} must be a version such as 2.27, or "unconfirmed"`);
    return {
      image,
      distribution,
      glibc: known(glibc),
      glibcxx: known(glibcxx),
      python: known(python),
      status,
    };
  });
}

export function describeBase(base: Base): string {
  if (!base.glibc) return `${base.image} (glibc unconfirmed)`;
  return `${base.image} (${base.distribution}: glibc ${base.glibc}, GLIBCXX ${base.glibcxx ?? "unconfirmed"})`;
}
