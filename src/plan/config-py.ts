/**
 * A small reader for the Python subset Distributed-CellProfiler's config.py uses: assignments of
 * literals (strings, ints, floats, True/False/None), lists, names assigned earlier
 * (`APP_NAME + 'Queue'`), arithmetic (`3*60`, `DOCKER_CORES * 1024`), comments and blank lines.
 * `import` / `from` lines are skipped. It never runs Python: anything else (calls, f-strings,
 * conditionals, unknown names, blocks...) is reported with its line number, so nothing is guessed.
 *
 * Pure: no file or AWS access, unit-tested on its own.
 */

export type PyValue = string | number | boolean | null | PyValue[];

export interface PyAssignment {
  name: string;
  value: PyValue;
  line: number;
}

export interface PyProblem {
  line: number;
  reason: string;
}

export interface PyModule {
  /** Assignments in file order; a name assigned twice keeps its last value (and line). */
  assignments: Map<string, PyAssignment>;
  problems: PyProblem[];
}

type TokenKind = "name" | "number" | "string" | "op" | "newline" | "bad";

interface Token {
  kind: TokenKind;
  text: string;
  line: number;
  /** Decoded value of a string or number token; the reason for a "bad" token. */
  value?: string | number;
  /** Leading whitespace of the logical line (only on its first token). */
  indented?: boolean;
}

const OPERATORS = [
  "**",
  "//",
  "==",
  "!=",
  "<=",
  ">=",
  "+=",
  "-=",
  "*=",
  "/=",
  "->",
  ":=",
  "+",
  "-",
  "*",
  "/",
  "%",
  "(",
  ")",
  "[",
  "]",
  "{",
  "}",
  ",",
  ":",
  ".",
  "=",
  "<",
  ">",
  "@",
  "&",
  "|",
  "^",
  "~",
  ";",
];
const NUMBER = /^(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(\d[\d_]*\.?[\d_]*|\.\d[\d_]*)([eE][+-]?\d+)?)[jJ]?/;
const STRING_START = /^([rRuUbBfF]{0,2})('''|"""|'|")/;
const ESCAPES: Record<string, string> = {
  n: "\n",
  t: "\t",
  r: "\r",
  "\\": "\\",
  "'": "'",
  '"': '"',
  "0": "\0",
  a: "\x07",
  b: "\b",
  f: "\f",
  v: "\v",
  "\n": "",
};

function decodeEscapes(body: string): string {
  return body.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[\s\S])/g, (whole, esc: string) => {
    if (esc.length > 1) return String.fromCodePoint(parseInt(esc.slice(1), 16));
    return ESCAPES[esc] ?? whole;
  });
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let depth = 0;
  let atLineStart = true;
  let indented = false;
  const push = (token: Token) => {
    if (atLineStart) {
      token.indented = indented;
      atLineStart = false;
    }
    tokens.push(token);
  };
  const endLogicalLine = () => {
    if (!atLineStart) tokens.push({ kind: "newline", text: "\n", line });
    atLineStart = true;
    indented = false;
    depth = 0;
  };
  while (i < text.length) {
    const ch = text[i]!;
    const rest = text.slice(i, i + 400);
    if (ch === "\n") {
      if (depth === 0) endLogicalLine();
      line += 1;
      i += 1;
      continue;
    }
    if (ch === " " || ch === "\t" || ch === "\r" || ch === "\f") {
      if (atLineStart && ch !== "\r") indented = true;
      i += 1;
      continue;
    }
    if (ch === "#") {
      while (i < text.length && text[i] !== "\n") i += 1;
      continue;
    }
    if (ch === "\\" && (text[i + 1] === "\n" || (text[i + 1] === "\r" && text[i + 2] === "\n"))) {
      i += text[i + 1] === "\n" ? 2 : 3;
      line += 1;
      continue;
    }
    const str = STRING_START.exec(rest);
    if (str && (str[1] === "" || /^[a-zA-Z]+$/.test(str[1]!))) {
      const prefix = str[1]!.toLowerCase();
      const quote = str[2]!;
      const startLine = line;
      let j = i + str[0].length;
      let body = "";
      let closed = false;
      while (j < text.length) {
        const c = text[j]!;
        if (c === "\\" && !prefix.includes("r")) {
          body += text.slice(j, j + 2);
          if (text[j + 1] === "\n") line += 1;
          j += 2;
          continue;
        }
        if (text.startsWith(quote, j)) {
          closed = true;
          j += quote.length;
          break;
        }
        if (c === "\n") {
          if (quote.length === 1) break;
          line += 1;
        }
        body += c;
        j += 1;
      }
      const raw = text.slice(i, j);
      if (!closed) push({ kind: "bad", text: raw, line: startLine, value: "unterminated string" });
      else if (prefix.includes("f"))
        push({ kind: "bad", text: raw, line: startLine, value: "f-strings cannot be converted" });
      else if (prefix.includes("b"))
        push({ kind: "bad", text: raw, line: startLine, value: "bytes literals cannot be converted" });
      else
        push({ kind: "string", text: raw, line: startLine, value: prefix.includes("r") ? body : decodeEscapes(body) });
      i = j;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
    if (name) {
      push({ kind: "name", text: name[0], line });
      i += name[0].length;
      continue;
    }
    const num = NUMBER.exec(rest);
    if (num && num[0] !== ".") {
      const literal = num[0];
      if (/[jJ]$/.test(literal))
        push({ kind: "bad", text: literal, line, value: "complex numbers cannot be converted" });
      else {
        const clean = literal.replace(/_/g, "");
        const value = /^0[oO]/.test(clean)
          ? parseInt(clean.slice(2), 8)
          : /^0[bB]/.test(clean)
            ? parseInt(clean.slice(2), 2)
            : Number(clean);
        push({ kind: "number", text: literal, line, value });
      }
      i += literal.length;
      continue;
    }
    const op = OPERATORS.find((o) => text.startsWith(o, i));
    if (op) {
      if (op === "(" || op === "[" || op === "{") depth += 1;
      if ((op === ")" || op === "]" || op === "}") && depth > 0) depth -= 1;
      push({ kind: "op", text: op, line });
      i += op.length;
      continue;
    }
    push({ kind: "bad", text: ch, line, value: `unexpected character '${ch}'` });
    i += 1;
  }
  endLogicalLine();
  return tokens;
}

class Unconvertible extends Error {}

/** Python's type names, for messages such as "cannot add str and int". */
function typeName(v: PyValue): string {
  if (v === null) return "None";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "string") return "str";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float";
  return "list";
}

const isNumber = (v: PyValue): v is number => typeof v === "number";

function binary(op: string, a: PyValue, b: PyValue): PyValue {
  const fail = (): never => {
    throw new Unconvertible(`cannot apply '${op}' to ${typeName(a)} and ${typeName(b)}`);
  };
  switch (op) {
    case "+":
      if (isNumber(a) && isNumber(b)) return a + b;
      if (typeof a === "string" && typeof b === "string") return a + b;
      if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
      return fail();
    case "-":
      return isNumber(a) && isNumber(b) ? a - b : fail();
    case "*":
      if (isNumber(a) && isNumber(b)) return a * b;
      if ((typeof a === "string" || Array.isArray(a)) && isNumber(b) && Number.isInteger(b)) return repeat(a, b);
      if ((typeof b === "string" || Array.isArray(b)) && isNumber(a) && Number.isInteger(a)) return repeat(b, a);
      return fail();
    case "/":
    case "//":
    case "%": {
      if (!isNumber(a) || !isNumber(b)) return fail();
      if (b === 0) throw new Unconvertible("division by zero");
      if (op === "/") return a / b;
      if (op === "//") return Math.floor(a / b);
      return a - b * Math.floor(a / b);
    }
    case "**":
      return isNumber(a) && isNumber(b) ? a ** b : fail();
    default:
      throw new Unconvertible(`the operator '${op}' cannot be converted`);
  }
}

function repeat(value: string | PyValue[], times: number): PyValue {
  if (typeof value === "string") return value.repeat(Math.max(0, times));
  const out: PyValue[] = [];
  for (let k = 0; k < times; k++) out.push(...value);
  return out;
}

const PRECEDENCE: Record<string, number> = { "+": 1, "-": 1, "*": 2, "/": 2, "//": 2, "%": 2 };
const UNSUPPORTED_KEYWORDS: Record<string, string> = {
  if: "conditional expressions (x if c else y) cannot be converted",
  else: "conditional expressions (x if c else y) cannot be converted",
  and: "boolean operators (and/or/not) cannot be converted",
  or: "boolean operators (and/or/not) cannot be converted",
  not: "boolean operators (and/or/not) cannot be converted",
  lambda: "lambda expressions cannot be converted",
  for: "comprehensions cannot be converted",
  in: "comprehensions and 'in' tests cannot be converted",
  is: "comparisons cannot be converted",
};
const COMPARISONS = new Set(["==", "!=", "<", ">", "<=", ">="]);

/** Parses and evaluates one expression (the tokens after `NAME =`). */
class ExpressionReader {
  private pos = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly names: ReadonlyMap<string, PyAssignment>,
    private readonly failed: ReadonlyMap<string, number>,
  ) {}

  read(): PyValue {
    const value = this.expression(0);
    const next = this.tokens[this.pos];
    if (next) this.unexpected(next);
    return value;
  }

  private peek(): Token | undefined {
    return this.tokens[this.pos];
  }

  private unexpected(token: Token): never {
    if (token.kind === "name" && UNSUPPORTED_KEYWORDS[token.text])
      throw new Unconvertible(UNSUPPORTED_KEYWORDS[token.text]);
    if (token.kind === "op" && COMPARISONS.has(token.text)) throw new Unconvertible("comparisons cannot be converted");
    if (token.kind === "op" && token.text === ",")
      throw new Unconvertible("tuples cannot be converted (use a list: [a, b])");
    throw new Unconvertible(`unexpected '${token.text}'`);
  }

  private expect(text: string): void {
    const token = this.peek();
    if (!token) throw new Unconvertible(`missing '${text}'`);
    if (token.text !== text) this.unexpected(token);
    this.pos += 1;
  }

  private expression(minPrecedence: number): PyValue {
    let left = this.unary();
    for (;;) {
      const token = this.peek();
      const precedence = token?.kind === "op" ? PRECEDENCE[token.text] : undefined;
      if (!token || precedence === undefined || precedence < minPrecedence) return left;
      this.pos += 1;
      const right = this.expression(precedence + 1);
      left = binary(token.text, left, right);
    }
  }

  private unary(): PyValue {
    const token = this.peek();
    if (token?.kind === "op" && (token.text === "-" || token.text === "+")) {
      this.pos += 1;
      const operand = this.unary();
      if (!isNumber(operand)) throw new Unconvertible(`cannot apply unary '${token.text}' to ${typeName(operand)}`);
      return token.text === "-" ? -operand : operand;
    }
    return this.power();
  }

  private power(): PyValue {
    const base = this.postfix();
    const token = this.peek();
    if (token?.kind === "op" && token.text === "**") {
      this.pos += 1;
      return binary("**", base, this.unary());
    }
    return base;
  }

  private postfix(): PyValue {
    const value = this.atom();
    const token = this.peek();
    if (token?.kind === "op") {
      if (token.text === "(") throw new Unconvertible("function calls cannot be converted");
      if (token.text === ".") throw new Unconvertible("attribute access (x.y) cannot be converted");
      if (token.text === "[") throw new Unconvertible("indexing and slicing cannot be converted");
    }
    return value;
  }

  private atom(): PyValue {
    const token = this.peek();
    if (!token) throw new Unconvertible("missing value");
    this.pos += 1;
    switch (token.kind) {
      case "bad":
        throw new Unconvertible(String(token.value));
      case "number":
        return token.value as number;
      case "string": {
        let value = token.value as string;
        while (this.peek()?.kind === "string") value += this.tokens[this.pos++]!.value as string;
        if (this.peek()?.kind === "bad") throw new Unconvertible(String(this.peek()!.value));
        return value;
      }
      case "name": {
        const next = this.peek();
        if (next?.kind === "op" && (next.text === "(" || next.text === ".")) {
          throw new Unconvertible(
            next.text === "("
              ? `function calls (${token.text}(...)) cannot be converted`
              : `attribute access (${token.text}.${this.tokens[this.pos + 1]?.text ?? ""}) cannot be converted`,
          );
        }
        return this.name(token.text);
      }
      case "op":
        if (token.text === "[") return this.list();
        if (token.text === "(") {
          if (this.peek()?.text === ")") throw new Unconvertible("tuples cannot be converted (use a list: [a, b])");
          const inner = this.expression(0);
          this.expect(")");
          return inner;
        }
        if (token.text === "{") throw new Unconvertible("dicts and sets cannot be converted");
        return this.unexpected(token);
      default:
        return this.unexpected(token);
    }
  }

  private name(name: string): PyValue {
    if (name === "True") return true;
    if (name === "False") return false;
    if (name === "None") return null;
    if (UNSUPPORTED_KEYWORDS[name]) throw new Unconvertible(UNSUPPORTED_KEYWORDS[name]);
    const known = this.names.get(name);
    if (known) return known.value;
    const failedAt = this.failed.get(name);
    if (failedAt !== undefined)
      throw new Unconvertible(`uses ${name}, which could not be converted (line ${failedAt})`);
    throw new Unconvertible(`unknown name ${name} (not assigned above)`);
  }

  private list(): PyValue[] {
    const items: PyValue[] = [];
    for (;;) {
      if (this.peek()?.text === "]") {
        this.pos += 1;
        return items;
      }
      items.push(this.expression(0));
      const next = this.peek();
      if (next?.text === ",") {
        this.pos += 1;
        continue;
      }
      if (next?.text === "]") continue;
      if (!next) throw new Unconvertible("missing ']'");
      this.unexpected(next);
    }
  }
}

/** Splits the token stream into logical lines (statements). */
function statements(tokens: Token[]): Token[][] {
  const out: Token[][] = [];
  let current: Token[] = [];
  for (const token of tokens) {
    if (token.kind === "newline" || (token.kind === "op" && token.text === ";")) {
      if (current.length) out.push(current);
      current = [];
    } else current.push(token);
  }
  if (current.length) out.push(current);
  return out;
}

/** Reads a config.py; never throws for content, every problem is listed with its line. */
export function readPythonConfig(text: string): PyModule {
  const assignments = new Map<string, PyAssignment>();
  const failed = new Map<string, number>();
  const problems: PyProblem[] = [];
  for (const statement of statements(tokenize(text))) {
    const first = statement[0]!;
    const line = first.line;
    if (first.kind === "name" && (first.text === "import" || first.text === "from") && !first.indented) continue;
    const problem = (reason: string) => problems.push({ line, reason });
    if (first.indented) {
      problem("indented code (inside a block) cannot be converted");
      continue;
    }
    const isAssignment = first.kind === "name" && statement[1]?.kind === "op" && statement[1].text === "=";
    if (!isAssignment) {
      if (first.kind === "name" && ["if", "for", "while", "def", "class", "try", "with"].includes(first.text))
        problem(`'${first.text}' blocks cannot be converted`);
      else if (statement[1]?.kind === "op" && /^[-+*/]=$/.test(statement[1].text))
        problem(`augmented assignment (${first.text} ${statement[1].text} ...) cannot be converted; write the value`);
      else if (statement.some((t) => t.kind === "op" && t.text === "="))
        problem("only simple assignments (NAME = value) can be converted");
      else problem("only assignments (NAME = value) can be converted");
      continue;
    }
    const rhs = statement.slice(2);
    if (rhs.some((t) => t.kind === "op" && t.text === "=")) {
      problem("chained assignments (A = B = value) cannot be converted");
      failed.set(first.text, line);
      continue;
    }
    if (rhs.length === 0) {
      problem(`${first.text} has no value`);
      failed.set(first.text, line);
      continue;
    }
    try {
      const value = new ExpressionReader(rhs, assignments, failed).read();
      if (typeof value === "number" && !Number.isFinite(value)) throw new Unconvertible("the number is out of range");
      assignments.delete(first.text);
      assignments.set(first.text, { name: first.text, value, line });
      failed.delete(first.text);
    } catch (err) {
      if (!(err instanceof Unconvertible)) throw err;
      problem(`${first.text}: ${err.message}`);
      assignments.delete(first.text);
      failed.set(first.text, line);
    }
  }
  return { assignments, problems };
}
