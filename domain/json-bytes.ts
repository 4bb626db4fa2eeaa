/**
 * An upper bound of the UTF-8 size of a value as JSON (plus its separating
 * comma): a UTF-16 code unit takes at most 3 bytes. Deterministic, and safe
 * inside a workflow.
 */
export function jsonBytes(value: unknown): number {
  const json = JSON.stringify(value) ?? '';
  let bytes = 1;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
  }
  return bytes;
}

/**
 * The same bound for one string, without building its JSON: a control
 * character or a surrogate (when lone, escaped as `\udxxx`) takes at most 6
 * bytes, a quote or backslash 2.
 */
export function jsonStringBytes(value: string): number {
  let bytes = 3;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || (c >= 0xd800 && c <= 0xdfff)) bytes += 6;
    else if (c === 0x22 || c === 0x5c) bytes += 2;
    else bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
  }
  return bytes;
}
