import type { OutPathKey } from "./paths.js";

/**
 * The steps of a Cell Painting batch as run_batch_general.py defines them (reference 3.4): how
 * finely each is split into groups, and its default pipeline, LoadData CSV, batch file, output
 * folder and output structure.
 */

export const STEP_NAMES = ["zproj", "illum", "qc", "qc_persite", "assaydev", "assaydev_persite", "analysis"] as const;
export type StepName = (typeof STEP_NAMES)[number];

/** plate: one group per plate; well: per plate × well; site: per plate × well × site. */
export type Granularity = "plate" | "well" | "site";

export interface StepDefinition {
  granularity: Granularity;
  pipeline: string;
  csvName: string;
  batchFile: string;
  outPath: OutPathKey;
  /** Undefined: the original sends no output_structure (the worker then joins the values with "-"). */
  outputStructure?: string;
  /** The original sends to the queue `<identifier>_<queueSuffix>Queue`; dcp uses the configured queue. */
  queueSuffix: string;
}

export const STEPS: Record<StepName, StepDefinition> = {
  zproj: {
    granularity: "site",
    pipeline: "Zproj.cppipe",
    csvName: "load_data_unprojected.csv",
    batchFile: "Batch_data_zproj.h5",
    outPath: "zprojOutPath",
    outputStructure: "Metadata_Plate",
    queueSuffix: "Zproj",
  },
  illum: {
    granularity: "plate",
    pipeline: "illum.cppipe",
    csvName: "load_data.csv",
    batchFile: "Batch_data_illum.h5",
    outPath: "illumOutPath",
    queueSuffix: "Illum",
  },
  qc: {
    granularity: "well",
    pipeline: "qc.cppipe",
    csvName: "load_data.csv",
    batchFile: "Batch_data_qc.h5",
    outPath: "qcOutPath",
    queueSuffix: "QC",
  },
  qc_persite: {
    granularity: "site",
    pipeline: "qc.cppipe",
    csvName: "load_data.csv",
    batchFile: "Batch_data_qc.h5",
    outPath: "qcOutPath",
    queueSuffix: "QC",
  },
  assaydev: {
    granularity: "well",
    pipeline: "assaydev.cppipe",
    csvName: "load_data_with_illum.csv",
    batchFile: "Batch_data_assaydev.h5",
    outPath: "assaydevOutPath",
    queueSuffix: "AssayDev",
  },
  assaydev_persite: {
    granularity: "site",
    pipeline: "assaydev.cppipe",
    csvName: "load_data_with_illum.csv",
    batchFile: "Batch_data_assaydev.h5",
    outPath: "assaydevOutPath",
    queueSuffix: "AssayDev",
  },
  analysis: {
    granularity: "site",
    pipeline: "analysis.cppipe",
    csvName: "load_data_with_illum.csv",
    batchFile: "Batch_data_analysis.h5",
    outPath: "analysisOutPath",
    outputStructure: "Metadata_Plate/analysis/Metadata_Plate-Metadata_Well-Metadata_Site",
    queueSuffix: "Analysis",
  },
};
