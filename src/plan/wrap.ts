/**
 * Word wrap for the text a command prints, so that long lines read in an 80-column terminal: lines
 * after the first are indented by `indent` spaces (a hanging indent under a label). Spacing inside a
 * line (padded columns) is kept; a word longer than the width stays whole. No width: the text as it is
 * (plain output, read by scripts and `grep`, is not wrapped). Pure.
 */
export function wrapWords(text: string, indent: number, width: number | undefined): string[] {
  if (width === undefined) return [text];
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
