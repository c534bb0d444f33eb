/**
 * The two file layouts of run_batch_general.py (reference 3.4): "default" (projects/<id>/...) and
 * "cpg" (Cell Painting Gallery, <id>/<source>/...). Paths are S3 keys, joined the way Python's
 * posixpath.join joins them, so an empty --source or --batchfile-path gives the same keys the
 * original gives.
 */

export const PATH_STYLES = ["default", "cpg"] as const;
export type PathStyle = (typeof PATH_STYLES)[number];

/** Python's posixpath.join: an absolute part restarts the path, empty parts add a trailing "/". */
export function posixJoin(first: string, ...rest: string[]): string {
  let path = first;
  for (const part of rest) {
    if (part.startsWith("/")) path = part;
    else if (path === "" || path.endsWith("/")) path += part;
    else path += `/${part}`;
  }
  return path;
}

export interface PathDefaults {
  pipelinePath: string;
  zprojOutPath: string;
  illumOutPath: string;
  qcOutPath: string;
  assaydevOutPath: string;
  analysisOutPath: string;
  inputPath: string;
  datafilePath: string;
  batchPath: string;
}

export type OutPathKey = "zprojOutPath" | "illumOutPath" | "qcOutPath" | "assaydevOutPath" | "analysisOutPath";

/** run_batch_general.py's path_dict, for one style. */
export function pathDefaults(style: PathStyle, identifier: string, source: string, batch: string): PathDefaults {
  if (style === "cpg") {
    return {
      pipelinePath: posixJoin(identifier, source, "workspace", "pipelines", batch),
      zprojOutPath: posixJoin(identifier, source, "images", batch, "images_projected"),
      illumOutPath: posixJoin(identifier, source, "images", batch, "illum"),
      qcOutPath: posixJoin(identifier, source, "workspace", "qc", batch, "results"),
      assaydevOutPath: posixJoin(identifier, source, "workspace", "assaydev", batch),
      analysisOutPath: posixJoin(identifier, source, "workspace", "analysis", batch),
      inputPath: posixJoin(identifier, source, "workspace", "qc", batch, "rules"),
      datafilePath: posixJoin(identifier, source, "workspace", "load_data_csv", batch),
      // The original has no batch-file folder in the Gallery layout (--use-batch is "not supported" there).
      batchPath: "",
    };
  }
  return {
    pipelinePath: posixJoin("projects", identifier, "workspace", "pipelines", batch),
    zprojOutPath: posixJoin("projects", identifier, batch, "images_projected"),
    illumOutPath: posixJoin("projects", identifier, batch, "illum"),
    qcOutPath: posixJoin("projects", identifier, "workspace", "qc", batch, "results"),
    assaydevOutPath: posixJoin("projects", identifier, "workspace", "assaydev", batch),
    analysisOutPath: posixJoin("projects", identifier, "workspace", "analysis", batch),
    inputPath: posixJoin("projects", identifier, "workspace", "qc", batch, "rules"),
    datafilePath: posixJoin("projects", identifier, "workspace", "load_data_csv", batch),
    batchPath: posixJoin("projects", identifier, "workspace", "batchfiles", batch),
  };
}
