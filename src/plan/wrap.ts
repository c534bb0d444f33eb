/**
 * Word wrap for the text a command prints, so that long lines read in an 80-column terminal: lines
 * after the first are indented by `indent` spaces (a hanging indent under a label). Spacing inside a
 * line (padded columns) is kept; a word longer than the width stays whole. Pure.
 */
export const TERMINAL_COLUMNS = 80;

export function wrapWords(text: string, indent: number, width = TERMINAL_COLUMNS - 1): string[] {
  const lines: string[] = [];
  let rest = text;
  let floor = /^ */.exec(text)![0].length; // never break inside the leading spaces
  while (rest.length > width) {
    let at = rest.lastIndexOf(" ", width);
    if (at <= floor) at = rest.indexOf(" ", width);
    if (at <= floor) break;
    lines.push(rest.slice(0, at).trimEnd());
    rest = " ".repeat(indent) + rest.slice(at).trimStart();
    floor = indent;
  }
  lines.push(rest);
  return lines;
}
