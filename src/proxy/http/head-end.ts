/**
 * Finds where a request head may end (an empty line) in bytes that arrive a chunk at a time,
 * without looking at any byte twice: the scan resumes from a small state carried across chunks.
 * Downstream parses an incomplete head again only once this says its end may have arrived, so a
 * head trickled in many small chunks costs linear time instead of one full parse per chunk.
 *
 * The empty line is LF LF or LF CR LF: CRLF CRLF ends a valid head, and the bare-LF forms end
 * heads the parser rejects (so the client gets its 400 at once instead of waiting for a timeout).
 */

const CR = 13;
const LF = 10;

/** Scanner state: nothing pending. */
export const EOH_NONE = 0;
/** Scanner state: the last byte was LF. */
export const EOH_LF = 1;
/** Scanner state: the last bytes were LF CR. */
export const EOH_LF_CR = 2;
/** Scanner result: an empty line arrived; parse the head. */
export const EOH_FOUND = 3;

/** Continues the end-of-head scan over `chunk` from state `s`; returns the new state (EOH_FOUND stops early). */
export function scanHeadEnd(chunk: Buffer, s: number): number {
  const n = chunk.length;
  let i = 0;
  while (i < n) {
    if (s === EOH_NONE) {
      const j = chunk.indexOf(LF, i);
      if (j < 0) return EOH_NONE;
      s = EOH_LF;
      i = j + 1;
      continue;
    }
    const c = chunk[i++];
    if (c === LF) return EOH_FOUND;
    s = s === EOH_LF && c === CR ? EOH_LF_CR : EOH_NONE;
  }
  return s;
}

/** The scanner state after the last bytes of `buf` (bytes before them cannot end a head any more). */
export function headEndState(buf: Buffer): number {
  const n = buf.length;
  if (n > 0 && buf[n - 1] === LF) return EOH_LF;
  if (n > 1 && buf[n - 1] === CR && buf[n - 2] === LF) return EOH_LF_CR;
  return EOH_NONE;
}
