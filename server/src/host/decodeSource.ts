/**
 * Python source bytes → text. Honours a PEP 263 coding declaration on the first two lines
 * (latin-1, cp1252…), strips a UTF-8 BOM, and falls back to latin-1 when bytes are not valid
 * UTF-8 so that a stray byte never loses the whole file.
 */
export function decodeSource(bytes: Uint8Array): { text: string; encoding: string } {
  let start = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
  const head = Buffer.from(bytes.subarray(start, Math.min(bytes.length, start + 400))).toString('latin1');
  const firstTwo = head.split(/\r?\n/).slice(0, 2).join('\n');
  const declared = /^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)/m.exec(firstTwo)?.[1]?.toLowerCase();
  const body = bytes.subarray(start);
  if (declared && !/^utf-?8/.test(declared)) {
    const label = declared.replace(/^(latin-1|iso-8859-1|iso8859-1|l1)$/, 'latin1');
    try {
      return { text: new TextDecoder(label).decode(body), encoding: declared };
    } catch {
      // an encoding name TextDecoder does not know: fall through
    }
  }
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(body), encoding: 'utf-8' };
  } catch {
    return { text: new TextDecoder('latin1').decode(body), encoding: 'latin-1 (invalid UTF-8)' };
  }
}
