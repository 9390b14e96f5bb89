/**
 * A word-level diff of an original step and its rewrite, for showing what refinement deleted and added. Words
 * and the whitespace between them are the units, so joining one side's parts gives its text back exactly.
 */

export interface DiffPart {
  op: "same" | "deleted" | "added";
  text: string;
}

/** Longest-common-subsequence table cells above which the diff gives up and shows delete-all / add-all. */
const MAX_CELLS = 4_000_000;

function words(s: string): string[] {
  return s.split(/(\s+)/).filter((w) => w.length > 0);
}

/** Parts in reading order; `same` and `deleted` parts join to `before`, `same` and `added` parts to `after`. */
export function wordDiff(before: string, after: string): DiffPart[] {
  const a = words(before);
  const b = words(after);
  if (a.length * b.length > MAX_CELLS) return merge([...a.map((text) => ({ op: "deleted" as const, text })), ...b.map((text) => ({ op: "added" as const, text }))]);
  // lcs[i][j]: the longest common subsequence of a[i…] and b[j…], filled from the end so the walk runs forwards.
  const width = b.length + 1;
  const lcs = new Uint32Array((a.length + 1) * width);
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i * width + j] = a[i] === b[j] ? lcs[(i + 1) * width + j + 1] + 1 : Math.max(lcs[(i + 1) * width + j], lcs[i * width + j + 1]);
    }
  }
  const parts: DiffPart[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      parts.push({ op: "same", text: a[i] });
      i++;
      j++;
    } else if (lcs[(i + 1) * width + j] >= lcs[i * width + j + 1]) {
      parts.push({ op: "deleted", text: a[i++] });
    } else {
      parts.push({ op: "added", text: b[j++] });
    }
  }
  while (i < a.length) parts.push({ op: "deleted", text: a[i++] });
  while (j < b.length) parts.push({ op: "added", text: b[j++] });
  return merge(parts);
}

/** Adjacent parts of one kind joined, so the page gets one <del> per deleted run of words. */
function merge(parts: DiffPart[]): DiffPart[] {
  const out: DiffPart[] = [];
  for (const p of parts) {
    const last = out[out.length - 1];
    if (last && last.op === p.op) last.text += p.text;
    else out.push({ ...p });
  }
  return out;
}
