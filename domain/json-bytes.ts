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
