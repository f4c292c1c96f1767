/**
 * pkt-line framing (gitprotocol-common(5)): 4 hex digits of length including themselves,
 * or the special packets 0000 (flush), 0001 (delim), 0002 (response-end).
 */
export function pktLine(text: string): Buffer {
  const payload = Buffer.from(text);
  return Buffer.concat([Buffer.from((payload.length + 4).toString(16).padStart(4, '0')), payload]);
}

export const FLUSH = Buffer.from('0000');

/**
 * Checks that a complete request body is a well-formed pkt-line stream up to its last
 * flush; a pack may follow the commands (receive-pack), so framing is checked only while
 * packets are text. Returns a reason, or null when it is well formed.
 */
export function pktLineProblem(body: Buffer): string | null {
  if (body.length === 0) return 'empty request body';
  let offset = 0;
  while (offset < body.length) {
    if (body.length - offset < 4) return 'truncated pkt-line length';
    const hex = body.toString('latin1', offset, offset + 4);
    if (!/^[0-9a-f]{4}$/.test(hex)) {
      // A packfile after the last flush is fine; anything else is garbage.
      return body.toString('latin1', offset, offset + 4) === 'PACK' ? null : `bad pkt-line length "${printable(hex)}"`;
    }
    const length = parseInt(hex, 16);
    if (length === 3) return 'bad pkt-line length 3';
    offset += length < 4 ? 4 : length;
    if (offset > body.length) return 'pkt-line longer than the request body';
  }
  return null;
}

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
}
