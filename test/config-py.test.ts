import { describe, expect, it } from "vitest";
import { readPythonConfig } from "../src/plan/config-py.js";

function values(text: string) {
  const { assignments, problems } = readPythonConfig(text);
  return { values: Object.fromEntries([...assignments.values()].map((a) => [a.name, a.value])), problems };
}

describe("config.py reader (the Python subset DCP configs use)", () => {
  it("reads literals, names assigned above, arithmetic, lists and comments", () => {
    const { values: v, problems } = values(
      [
        "# Constants (User configurable)",
        "import os  # skipped",
        "from math import floor",
        "",
        "APP_NAME = 'Plate1'            # a comment with 'quotes' and = signs",
        "LOG_GROUP_NAME = APP_NAME",
        "SQS_QUEUE_NAME = APP_NAME + 'Queue'",
        'DOCKERHUB_TAG = "cellprofiler/distributed-cellprofiler:2.2.0_4.2.8"',
        "DOCKER_CORES = 4",
        "CPU_SHARES = DOCKER_CORES*1024",
        "SECONDS_TO_START = 3*60",
        "SQS_MESSAGE_VISIBILITY = 5 * 60 + 30",
        "MEMORY = (2 + 3) * 1_000",
        "MACHINE_PRICE = 0.20",
        "RATIO = 7 / 2",
        "HALF = 7 // 2",
        "REST = -7 % 3",
        "POW = 2 ** 3 ** 2",
        "NEG = -DOCKER_CORES",
        "USE_PLUGINS = True",
        "DOWNLOAD_FILES = 'False'",
        "PLUGINS_COMMIT = None",
        "MACHINE_TYPE = ['m5.xlarge',",
        "                'm5a.xlarge',  # second choice",
        "               ]",
        "EMPTY = []",
        "JOINED = 'a' 'b' \"c\"",
        "ESCAPED = 'it\\'s\\tok'",
        "RAW = r'C:\\new'",
        "LONG = 1 + \\",
        "       2",
        "TWICE = 1",
        "TWICE = TWICE + 1",
      ].join("\n"),
    );
    expect(problems).toEqual([]);
    expect(v).toEqual({
      APP_NAME: "Plate1",
      LOG_GROUP_NAME: "Plate1",
      SQS_QUEUE_NAME: "Plate1Queue",
      DOCKERHUB_TAG: "cellprofiler/distributed-cellprofiler:2.2.0_4.2.8",
      DOCKER_CORES: 4,
      CPU_SHARES: 4096,
      SECONDS_TO_START: 180,
      SQS_MESSAGE_VISIBILITY: 330,
      MEMORY: 5000,
      MACHINE_PRICE: 0.2,
      RATIO: 3.5,
      HALF: 3,
      REST: 2,
      POW: 512,
      NEG: -4,
      USE_PLUGINS: true,
      DOWNLOAD_FILES: "False",
      PLUGINS_COMMIT: null,
      MACHINE_TYPE: ["m5.xlarge", "m5a.xlarge"],
      EMPTY: [],
      JOINED: "abc",
      ESCAPED: "it's\tok",
      RAW: "C:\\new",
      LONG: 3,
      TWICE: 2,
    });
  });

  it("reports every line it cannot convert, with its number and why", () => {
    const { problems } = readPythonConfig(
      [
        "APP_NAME = 'x'",
        "TAG = f'{APP_NAME}'",
        "PROFILE = os.environ['AWS_PROFILE']",
        "WHEN = datetime.now()",
        "N = 3 if APP_NAME else 4",
        "M = UNDEFINED_NAME + 1",
        "K = M * 2",
        "if APP_NAME:",
        "    Q = 1",
        "T = (1, 2)",
        "D = {'a': 1}",
        "S = 'a' + 1",
        "Z = 1 / 0",
        "A = B = 1",
        "C += 1",
        "print('hello')",
        "U = 'unterminated",
        "V = 1 == 1",
        "W = 'abc'[0]",
      ].join("\n"),
    );
    expect(problems.map((p) => p.line)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    const reason = (line: number) => problems.find((p) => p.line === line)?.reason;
    expect(reason(2)).toMatch(/f-strings/);
    expect(reason(3)).toMatch(/attribute access \(os\.environ\)/);
    expect(reason(4)).toMatch(/attribute access|function call/);
    expect(reason(5)).toMatch(/conditional/);
    expect(reason(6)).toMatch(/unknown name UNDEFINED_NAME/);
    expect(reason(7)).toMatch(/uses M, which could not be converted \(line 6\)/);
    expect(reason(8)).toMatch(/'if' blocks/);
    expect(reason(9)).toMatch(/indented/);
    expect(reason(10)).toMatch(/tuples/);
    expect(reason(11)).toMatch(/dicts/);
    expect(reason(12)).toMatch(/cannot apply '\+' to str and int/);
    expect(reason(13)).toMatch(/division by zero/);
    expect(reason(14)).toMatch(/chained/);
    expect(reason(15)).toMatch(/augmented/);
    expect(reason(16)).toMatch(/only assignments/);
    expect(reason(17)).toMatch(/unterminated string/);
    expect(reason(18)).toMatch(/comparisons/);
    expect(reason(19)).toMatch(/indexing/);
  });

  it("numbers the lines of statements that follow multi-line lists and strings", () => {
    const { assignments, problems } = readPythonConfig("A = [\n 1,\n 2]\nB = '''x\ny'''\nC = f'z'\n");
    expect(assignments.get("B")?.value).toBe("x\ny");
    expect(assignments.get("B")?.line).toBe(4);
    expect(problems).toEqual([{ line: 6, reason: "C: f-strings cannot be converted" }]);
  });
});
