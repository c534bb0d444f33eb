/**
 * Reads a Dockerfile (instructions, stages, ARG defaults) and checks the rules the worker image keeps:
 * every FROM pinned by a tag (never latest) or digest, every download checked against a pinned value,
 * ENTRYPOINT/CMD in exec form, nothing secret baked in, and the bases.tsv guard first in the final stage.
 * It also lists the native binaries the final stage ships and where each comes from.
 */
export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

export interface Stage {
  /** The image as written, and with ARG defaults substituted. */
  from: string;
  image: string;
  name: string | undefined;
  line: number;
  instructions: Instruction[];
  args: Map<string, string>;
}

export interface Dockerfile {
  globalArgs: Map<string, string>;
  stages: Stage[];
}

export interface Finding {
  ok: boolean;
  rule: string;
  text: string;
}

/** Joins continued lines and drops comments; keeps each instruction's first line number. */
export function parseDockerfile(text: string): Dockerfile {
  const instructions: Instruction[] = [];
  let current: { text: string; line: number } | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const trimmed = raw.trim();
    if (trimmed.startsWith("#") || (trimmed === "" && !current)) return;
    const continued = /\\\s*$/.test(raw);
    const part = raw.replace(/\\\s*$/, "");
    if (current) current.text += ` ${part.trim()}`;
    else current = { text: part.trim(), line: i + 1 };
    if (!continued) {
      const m = /^(\S+)\s*([\s\S]*)$/.exec(current.text);
      if (m?.[1]) instructions.push({ keyword: m[1].toUpperCase(), args: (m[2] ?? "").trim(), line: current.line });
      current = undefined;
    }
  });
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === "FROM") {
      const words = ins.args.split(/\s+/).filter((w) => !w.startsWith("--"));
      const from = words[0] ?? "";
      const asIndex = words.findIndex((w) => w.toLowerCase() === "as");
      stages.push({
        from,
        image: substitute(from, globalArgs),
        name: asIndex > 0 ? words[asIndex + 1] : undefined,
        line: ins.line,
        instructions: [],
        args: new Map(),
      });
      continue;
    }
    const stage = stages.at(-1);
    if (ins.keyword === "ARG") {
      const [name, value] = splitAssignment(ins.args);
      if (!stage) globalArgs.set(name, value ?? "");
      else stage.args.set(name, value ?? globalArgs.get(name) ?? "");
    }
    stage?.instructions.push(ins);
  }
  return { globalArgs, stages };
}

function splitAssignment(text: string): [string, string | undefined] {
  const eq = text.indexOf("=");
  if (eq < 0) return [text.trim(), undefined];
  return [
    text.slice(0, eq).trim(),
    text
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, "$1"),
  ];
}

/** ${X}, $X and ${X:-default} from the given values; unknown ones stay as written. */
export function substitute(text: string, values: Map<string, string>): string {
  return text.replace(
    /\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)/g,
    (whole, braced?: string, fallback?: string, bare?: string) => {
      const name = braced ?? bare ?? "";
      const value = values.get(name);
      return value !== undefined && value !== "" ? value : (fallback ?? whole);
    },
  );
}

/** The stage's ARG values (its own, over the global ones), for substituting into its RUN lines. */
function stageValues(file: Dockerfile, stage: Stage): Map<string, string> {
  return new Map([...file.globalArgs, ...stage.args]);
}

export function finalStage(file: Dockerfile): Stage | undefined {
  return file.stages.at(-1);
}

/** An image reference's repository and tag ("node:20-slim" -> node, 20-slim); digest references count as pinned. */
export function imageTag(image: string): { repository: string; tag: string | undefined; digest: boolean } {
  const at = image.indexOf("@");
  if (at >= 0) return { repository: image.slice(0, at), tag: undefined, digest: true };
  const slash = image.lastIndexOf("/");
  const colon = image.lastIndexOf(":");
  if (colon > slash) return { repository: image.slice(0, colon), tag: image.slice(colon + 1), digest: false };
  return { repository: image, tag: undefined, digest: false };
}

const SECRET_NAME = /(SECRET|PASSWORD|PASSWD|TOKEN|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL|API_KEY)/i;
const SECRET_TEXT = [
  { pattern: /\bAKIA[0-9A-Z]{16}\b/, what: "an AWS access key id" },
  { pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----/, what: "a private key" },
  { pattern: /aws_secret_access_key\s*[=:]\s*["']?[A-Za-z0-9/+]{40}/i, what: "an AWS secret access key" },
];
const SECRET_FILE =
  /(^|\/)(\.env(\..*)?|\.aws|\.ssh|\.npmrc|id_rsa[^/]*|[^/]*\.pem|[^/]*\.key|credentials(\.[a-z]+)?|config\/config\.json)$/;

/** Each curl or wget command of a RUN line, with its URL when one is written out. */
function downloads(text: string): string[] {
  return [...text.matchAll(/(?:^|[;&|({]\s*|\$\(\s*)(?:curl|wget)\s([^;&|]*)/g)].map(
    (m) => /https?:\/\/[^\s"']+/.exec(m[1] ?? "")?.[0] ?? "(a URL this check cannot resolve)",
  );
}

/** Substitutes the shell variables a RUN line assigns itself (base="https://..."; deb="x-${V}.deb"). */
export function expandShellVariables(text: string): string {
  const values = new Map<string, string>();
  for (const m of text.matchAll(/(?:^|[;&|]\s*)(\w+)=("([^"]*)"|'([^']*)'|([^\s;&|]*))/g)) {
    const name = m[1] as string;
    values.set(name, substitute(m[3] ?? m[4] ?? m[5] ?? "", values));
  }
  return substitute(text, values);
}

export function staticFindings(file: Dockerfile, baseImages: readonly string[]): Finding[] {
  const findings: Finding[] = [];
  const stageNames = new Set<string>();
  const add = (ok: boolean, rule: string, text: string) => findings.push({ ok, rule, text });

  // FROM pinned by tag or digest, never latest.
  for (const [i, stage] of file.stages.entries()) {
    const last = i === file.stages.length - 1;
    if (stageNames.has(stage.image)) add(true, "from", `FROM ${stage.from} (line ${stage.line}): an earlier stage`);
    else if (stage.image.includes("$"))
      add(
        false,
        "from",
        `FROM ${stage.from} (line ${stage.line}): ${stage.image} has no default value (pin it with ARG)`,
      );
    else {
      const { tag, digest } = imageTag(stage.image);
      if (!digest && !tag)
        add(false, "from", `FROM ${stage.image} (line ${stage.line}) has no tag: Docker would take latest; pin a tag`);
      else if (tag === "latest") add(false, "from", `FROM ${stage.image} (line ${stage.line}) uses latest; pin a tag`);
      else add(true, "from", `FROM ${stage.image} (line ${stage.line})${last ? ", the default base" : ""}`);
    }
    if (stage.name) stageNames.add(stage.name);
  }

  // The final stage's default base is a row of bases.tsv, and the table guard is its first RUN.
  const last = finalStage(file);
  if (last) {
    if (!baseImages.includes(last.image))
      add(
        false,
        "base",
        `the default base ${last.image} is not in worker/bases.tsv (supported: ${baseImages.join(", ")})`,
      );
    const firstRun = last.instructions.find((ins) => ins.keyword === "RUN");
    if (!firstRun || !/check-base\.sh/.test(firstRun.args))
      add(
        false,
        "base",
        "the final stage's first RUN must be worker/check-base.sh (a base not in bases.tsv stops the build there)",
      );
    else
      add(
        true,
        "base",
        `the final stage first runs check-base.sh (line ${firstRun.line}) with ${last.image} in bases.tsv`,
      );
  }

  for (const stage of file.stages) {
    const values = stageValues(file, stage);
    for (const ins of stage.instructions) {
      const where = `line ${ins.line}`;
      const text = expandShellVariables(substitute(ins.args, values));
      // Entry point and command in exec form (a JSON array), so signals reach dcp and no shell parses them.
      if (ins.keyword === "ENTRYPOINT" || ins.keyword === "CMD") {
        let exec = false;
        try {
          const parsed: unknown = JSON.parse(ins.args);
          exec = Array.isArray(parsed) && parsed.every((x) => typeof x === "string");
        } catch {
          exec = false;
        }
        add(exec, "exec", `${ins.keyword} ${ins.args} (${where})${exec ? "" : ": use the exec form, a JSON array"}`);
      }
      // Downloads: checked against a pinned value in the same RUN.
      if (ins.keyword === "RUN") {
        const urls = downloads(text);
        if (urls.length) {
          const sha = /\bsha(256|512)sum\s+(-c|--check)\b/.test(text) && /\b[0-9a-f]{64}(?:[0-9a-f]{64})?\b/.test(text);
          const gpgv = /\bgpgv\b/.test(text) && /\b[0-9A-F]{40}\b/.test(text);
          const names = urls.map((u) => u.split("/").pop() ?? u).join(", ");
          add(
            sha || gpgv,
            "download",
            sha || gpgv
              ? `${names} (${where}): ${sha ? "sha256sum -c with a pinned SHA-256" : "gpgv with a pinned key fingerprint"}`
              : `${names} (${where}) downloaded without a pinned checksum: check it with sha256sum -c against a pinned value`,
          );
        }
        for (const m of text.matchAll(/\bgit\s+clone\b[^;&|]*?(\S+\.git|https?:\/\/\S+)/g)) {
          const pinned =
            /\bgit\s+(-C\s+\S+\s+)?(reset\s+(--quiet\s+)?--hard|checkout)\s+(--quiet\s+)?"?[0-9a-f]{40}\b/.test(text);
          add(
            pinned,
            "download",
            `git clone ${m[1]} (${where})${pinned ? ": checked out at a pinned commit" : " without checking out a pinned 40-hex commit"}`,
          );
        }
        if (/\bpip3?\s+install\b/.test(text) && !/--require-hashes/.test(text))
          add(false, "download", `pip install (${where}) without --require-hashes`);
        if (/\bnpm\s+(install|i)\b/.test(text))
          add(
            false,
            "download",
            `npm install (${where}): use npm ci, which checks package-lock.json's integrity hashes`,
          );
      }
      if (ins.keyword === "ADD" && /https?:\/\//.test(text) && !/--checksum=sha256:[0-9a-f]{64}/.test(text))
        add(false, "download", `ADD of a URL (${where}) without --checksum=sha256:...`);
      // Nothing secret in the image.
      if (ins.keyword === "ENV" || ins.keyword === "ARG") {
        for (const m of ins.args.matchAll(/(\w+)=("[^"]*"|\S*)/g)) {
          if (SECRET_NAME.test(m[1] ?? "") && (m[2] ?? "").replace(/"/g, "") !== "")
            add(false, "secret", `${ins.keyword} ${m[1]} (${where}) bakes a secret-looking value into the image`);
        }
      }
      if (ins.keyword === "COPY" || ins.keyword === "ADD") {
        const paths = ins.args.split(/\s+/).filter((w) => !w.startsWith("--"));
        for (const source of paths.slice(0, -1))
          if (SECRET_FILE.test(source.replace(/\/$/, "")))
            add(false, "secret", `${ins.keyword} ${source} (${where}) copies a credentials-like file into the image`);
      }
      for (const { pattern, what } of SECRET_TEXT)
        if (pattern.test(ins.args)) add(false, "secret", `${ins.keyword} (${where}) contains ${what}`);
    }
  }
  if (!findings.some((f) => f.rule === "secret"))
    add(true, "secret", "no secret-looking ENV/ARG value, key material or credentials file");
  return findings;
}

/** A native binary the final stage ships, and where a copy to inspect could be found. */
export type Shipped =
  | { kind: "official-node"; path: string; image: string; major: number; line: number }
  | {
      kind: "node-tarball";
      path: string;
      url: string;
      file: string;
      member: string;
      sha256: string | undefined;
      line: number;
    }
  | { kind: "deb"; path: string; url: string; file: string; line: number }
  | { kind: "node-modules"; path: string; line: number };

export function shippedBinaries(file: Dockerfile): Shipped[] {
  const last = finalStage(file);
  if (!last) return [];
  const values = stageValues(file, last);
  const stageImage = new Map(file.stages.filter((s) => s.name).map((s) => [s.name as string, s.image]));
  const out: Shipped[] = [];
  for (const ins of last.instructions) {
    const text = expandShellVariables(substitute(ins.args, values));
    if (ins.keyword === "COPY") {
      const from = /--from=(\S+)/.exec(text)?.[1];
      const paths = text.split(/\s+/).filter((w) => !w.startsWith("--"));
      const dest = paths.at(-1) ?? "";
      const sources = paths.slice(0, -1);
      if (from && sources.some((s) => /\/node_modules\/?$/.test(s)))
        out.push({ kind: "node-modules", path: dest, line: ins.line });
      if (from && sources.some((s) => /(^|\/)bin\/node$/.test(s))) {
        const image = stageImage.get(from) ?? from;
        const { repository, tag } = imageTag(image);
        const major = Number(/^(\d+)/.exec(tag ?? "")?.[1] ?? NaN);
        if (/(^|\/)node$/.test(repository) && Number.isInteger(major))
          out.push({ kind: "official-node", path: dest, image, major, line: ins.line });
      }
    }
    if (ins.keyword === "RUN") {
      for (const url of downloads(text)) {
        const name = url.split("/").pop() ?? url;
        const node = /^(node-v[\d.]+-linux-x64(?:-glibc-217)?)\.tar\.(xz|gz)$/.exec(name);
        if (node?.[1]) {
          const sha256 = /\b([0-9a-f]{64})\b/.exec(text)?.[1];
          out.push({
            kind: "node-tarball",
            path: "node",
            url,
            file: name,
            member: `${node[1]}/bin/node`,
            sha256,
            line: ins.line,
          });
        } else if (/\.deb$/.test(name))
          out.push({ kind: "deb", path: name.replace(/[-_]\d.*$/, ""), url, file: name, line: ins.line });
      }
    }
  }
  return out;
}
