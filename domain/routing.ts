/**
 * Sticky weighted routing between the champion and a canary candidate. A
 * request key (user id, session id) always lands on the same side for a
 * given weight, so one user does not flip between models mid-session and
 * per-version feedback stays attributable.
 */

export interface Route {
  readonly champion: number | null;
  readonly candidate: number | null;
  /** Percent of keys sent to the candidate, 0..100 (resolution 0.01). */
  readonly candidateWeight: number;
}

const BUCKETS = 10_000;

/**
 * Picks the version for a request. The key hashes to a bucket 0..9999;
 * buckets below weight × 100 go to the candidate. Because the bucket depends
 * only on the key, raising the weight only moves champion keys to the
 * candidate, never back (monotone): users who saw the candidate keep it.
 *
 * @throws {Error} when candidateWeight is outside [0, 100]
 * @example
 * chooseVersion({ champion: 3, candidate: 4, candidateWeight: 10 }, 'user-42');
 * // => { version: 3, role: 'champion' } or { version: 4, role: 'candidate' }, the same on every call
 */
export function chooseVersion(
  route: Route,
  requestKey: string,
): { version: number; role: 'champion' | 'candidate' } | null {
  if (!(route.candidateWeight >= 0 && route.candidateWeight <= 100)) {
    throw new Error(`chooseVersion: candidateWeight must be in [0, 100], got ${route.candidateWeight}`);
  }
  const { champion, candidate } = route;
  if (candidate === null) return champion === null ? null : { version: champion, role: 'champion' };
  if (champion === null) return { version: candidate, role: 'candidate' };
  // Rounded so that 0.29 % means 29 buckets, not the 28.999… that float
  // multiplication gives.
  const threshold = Math.round(route.candidateWeight * (BUCKETS / 100));
  // 2^32 mod 10 000 leaves the low buckets 1 in 429 497 more likely: negligible.
  const bucket = fnv1a32(requestKey) % BUCKETS;
  return bucket < threshold
    ? { version: candidate, role: 'candidate' }
    : { version: champion, role: 'champion' };
}

/**
 * 32-bit FNV-1a over the string's UTF-8 bytes (so it agrees with other
 * languages' implementations). Reference: http://www.isthe.com/chongo/tech/comp/fnv/
 *
 * @example
 * fnv1a32('');  // => 2166136261 (0x811c9dc5, the offset basis)
 * fnv1a32('a'); // => 3826002220 (0xe40c292c)
 */
export function fnv1a32(s: string): number {
  let hash = 0x811c9dc5;
  const add = (byte: number) => {
    hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  };
  for (const ch of s) {
    // Encode by hand rather than with TextEncoder to stay free of host APIs.
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) {
      add(cp);
    } else if (cp < 0x800) {
      add(0xc0 | (cp >> 6));
      add(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      add(0xe0 | (cp >> 12));
      add(0x80 | ((cp >> 6) & 0x3f));
      add(0x80 | (cp & 0x3f));
    } else {
      add(0xf0 | (cp >> 18));
      add(0x80 | ((cp >> 12) & 0x3f));
      add(0x80 | ((cp >> 6) & 0x3f));
      add(0x80 | (cp & 0x3f));
    }
  }
  return hash;
}
