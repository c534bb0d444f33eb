/** A yes/no question on the terminal (stderr), for commands that change things on confirmation. */

/** True without asking when `yes` (--yes) or when stdin is not a terminal (scripts); else asks, default no. */
export async function confirmOnTerminal(question: string, yes: boolean): Promise<boolean> {
  if (yes || !process.stdin.isTTY) return true;
  const readline = await import("node:readline/promises");
  const prompt = readline.createInterface({ input: process.stdin, output: process.stderr });
  const answer = await prompt.question(`${question} [y/N] `).finally(() => prompt.close());
  return /^y(es)?$/i.test(answer.trim());
}
