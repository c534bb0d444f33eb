/**
 * How CellProfiler's LoadData turns CSV text into the values `-g` compares against
 * (cellprofiler-headless reference, "How -g selects image sets"): each column gets one type over the
 * whole file (int32 → INTEGER, else float → FLOAT, else VARCHAR; well-column names such as
 * Metadata_Col stay text), and the group value is compared with `str()` of the typed value. So a
 * CSV `01` is the integer 1 and only matches `Metadata_Site=1`.
 */

export type ColumnType = "integer" | "float" | "text";

const INT32_MAX = 2 ** 31 - 1;
const INT32_MIN = -(2 ** 31);

/** Python int(): optional sign, digits with single underscores between them, surrounding whitespace. */
const PY_INT = /^\s*[+-]?\d+(?:_\d+)*\s*$/;
const DIGITS = String.raw`\d+(?:_\d+)*`;
/** Python float(): decimals, exponents, inf/infinity/nan, surrounding whitespace. */
const PY_FLOAT = new RegExp(
  String.raw`^\s*[+-]?(?:(?:${DIGITS}(?:\.(?:${DIGITS})?)?|\.${DIGITS})(?:[eE][+-]?${DIGITS})?|inf|infinity|nan)\s*$`,
  "i",
);

function pyNumberText(raw: string): string {
  return raw.trim().replace(/_/g, "");
}

/** cellprofiler_core's get_loaddata_type for one cell. */
export function loadDataType(raw: string): ColumnType {
  if (PY_INT.test(raw)) {
    const value = Number(pyNumberText(raw));
    return value > INT32_MAX || value < INT32_MIN ? "text" : "integer";
  }
  return PY_FLOAT.test(raw) ? "float" : "text";
}

/** The reduce in best_cast: text wins over float, float over integer. */
export function widerType(a: ColumnType, b: ColumnType): ColumnType {
  if (a === "text" || b === "text") return "text";
  if (a === "float" || b === "float") return "float";
  return "integer";
}

const WELL_COLUMN_TOKENS = new Set(["wellcol", "well_col", "wellcolumn", "well_column", "column", "col"]);

const WELL_ROW_TOKENS = new Set(["wellrow", "well_row", "row"]);

/** Metadata_Row, Metadata_WellRow, Metadata_Well_Row (any case). */
export function isWellRowName(column: string): boolean {
  return column.startsWith("Metadata_") && WELL_ROW_TOKENS.has(column.slice("Metadata_".length).toLowerCase());
}

/** LoadData keeps well-column metadata (Metadata_Col, Metadata_Column, ...) as text. */
export function isWellColumnName(column: string): boolean {
  return column.startsWith("Metadata_") && WELL_COLUMN_TOKENS.has(column.slice("Metadata_".length).toLowerCase());
}

/** Python's repr of a float (shortest round-trip digits; scientific below 1e-4 and from 1e16). */
export function pythonFloatText(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  if (value === 0) return Object.is(value, -0) ? "-0.0" : "0.0";
  const [mantissa = "", exponentText = "0"] = value.toExponential().split("e");
  const exponent = Number(exponentText);
  const negative = mantissa.startsWith("-");
  const digits = mantissa.replace("-", "").replace(".", "");
  let body: string;
  if (exponent < -4 || exponent >= 16) {
    const fraction = digits.slice(1);
    body = `${digits[0]}${fraction ? `.${fraction}` : ""}e${exponent < 0 ? "-" : "+"}${String(Math.abs(exponent)).padStart(2, "0")}`;
  } else if (exponent < 0) {
    body = `0.${"0".repeat(-exponent - 1)}${digits}`;
  } else if (digits.length <= exponent + 1) {
    body = `${digits}${"0".repeat(exponent + 1 - digits.length)}.0`;
  } else {
    body = `${digits.slice(0, exponent + 1)}.${digits.slice(exponent + 1)}`;
  }
  return negative ? `-${body}` : body;
}

/** The text `-g` is compared with: str() of the value as LoadData typed it. */
export function cellProfilerText(raw: string, type: ColumnType): string {
  if (type === "integer") return String(Number(pyNumberText(raw)));
  if (type === "float") {
    const text = pyNumberText(raw).toLowerCase();
    if (/^[+-]?(inf|infinity)$/.test(text)) return text.startsWith("-") ? "-inf" : "inf";
    if (/^[+-]?nan$/.test(text)) return "nan";
    return pythonFloatText(Number(text));
  }
  return raw;
}
