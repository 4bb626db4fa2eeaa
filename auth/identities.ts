import { hash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { type Identity, ROLES } from '../domain/roles';

/**
 * Who may call ctloop, and what each role may do. Tokens are random strings
 * handed to people and monitors; ctloop keeps only their SHA-256 (a token has
 * 256 bits of entropy, so a plain hash is enough, and unlike a password hash
 * it is cheap on every request).
 */

export type { Identity, Permission, Role } from '../domain/roles';
export { can, PERMISSIONS, ROLES } from '../domain/roles';

export const tokenEntrySchema = z.object({
  name: z.string().trim().min(1).max(200),
  role: z.enum(ROLES),
  groups: z.array(z.string().trim().min(1)).default([]),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'sha256 must be the 64 hex digits of the token hash (npm run token)'),
});
export type TokenEntry = z.output<typeof tokenEntrySchema>;

export function hashToken(token: string): string {
  // One call, no Hash object: a third of createHash's cost on the serving hot path (Node ≥ 20.12).
  return hash('sha256', token, 'hex');
}

/** A new random token: `ctl_` and 43 base64url characters (256 bits). */
export function generateToken(): string {
  return `ctl_${randomBytes(32).toString('base64url')}`;
}

export interface IdentityRegistry {
  /** The identity a bearer token belongs to, or null for an unknown token. */
  authenticate(token: string): Identity | null;
  /** The identity of the token with this SHA-256 (a signed-in page session keeps the hash, not the token). */
  byTokenHash(sha256: string): Identity | null;
  /** An identity by name (for decisions sent as Temporal signals, which carry a name only). */
  byName(name: string): Identity | null;
  /** Adds a token (the dev runner adds its generated admin token this way). */
  add(entry: TokenEntry): void;
  readonly size: number;
}

/**
 * @throws {Error} when one name is given two different roles or group lists:
 * a person's rights must not depend on which of their tokens they use
 * @example
 * const ids = createIdentityRegistry([{ name: 'ana', role: 'approver', groups: [], sha256: hashToken('t') }]);
 * ids.authenticate('t')?.role; // => 'approver'
 */
export function createIdentityRegistry(entries: readonly TokenEntry[] = []): IdentityRegistry {
  const byHash = new Map<string, Identity>();
  const byName = new Map<string, Identity>();
  const registry: IdentityRegistry = {
    authenticate(token) {
      if (!token) return null;
      // Looked up by the token's SHA-256: how long the lookup takes can depend only on the hash,
      // which tells an attacker nothing about any stored token (finding a token for a hash
      // prefix is a preimage search), so no constant-time scan over every hash is needed.
      return byHash.get(hashToken(token)) ?? null;
    },
    byTokenHash: (sha256) => byHash.get(sha256) ?? null,
    byName: (name) => byName.get(name) ?? null,
    add(entry) {
      const identity: Identity = { name: entry.name, role: entry.role, groups: [...entry.groups].sort() };
      const known = byName.get(entry.name);
      if (known && (known.role !== identity.role || known.groups.join() !== identity.groups.join())) {
        throw new Error(
          `tokens for ${entry.name} disagree: role ${known.role} [${known.groups.join(', ')}] vs ${identity.role} [${identity.groups.join(', ')}]`,
        );
      }
      byName.set(entry.name, known ?? identity);
      byHash.set(entry.sha256, known ?? identity);
    },
    get size() {
      return byHash.size;
    },
  };
  for (const entry of entries) registry.add(entry);
  return registry;
}

/**
 * Parses token entries: a JSON array of `{name, role, groups?, sha256}`, or
 * `{"tokens": [...]}`.
 *
 * @throws {Error} naming `source` and the bad field
 */
export function parseTokenEntries(json: string, source: string): TokenEntry[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new Error(`${source}: not JSON: ${(err as Error).message}`);
  }
  // Two accepted shapes, checked one by one so the error names the bad field, not "invalid input".
  const list = Array.isArray(raw) ? raw : (raw as { tokens?: unknown } | null)?.tokens;
  if (!Array.isArray(list)) {
    throw new Error(`${source}: expected a JSON array of tokens, or {"tokens": [...]}`);
  }
  const parsed = z.array(tokenEntrySchema).safeParse(list);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`${source}: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/** The identities configured by CTLOOP_TOKENS_FILE and CTLOOP_TOKENS (both may be set). */
export function loadIdentities(config: { tokensFile?: string; tokens?: string }): IdentityRegistry {
  const entries: TokenEntry[] = [];
  if (config.tokensFile) {
    let text: string;
    try {
      text = readFileSync(config.tokensFile, 'utf8');
    } catch (err) {
      throw new Error(`CTLOOP_TOKENS_FILE: cannot read ${config.tokensFile}: ${(err as Error).message}`);
    }
    entries.push(...parseTokenEntries(text, `CTLOOP_TOKENS_FILE ${config.tokensFile}`));
  }
  if (config.tokens) entries.push(...parseTokenEntries(config.tokens, 'CTLOOP_TOKENS'));
  return createIdentityRegistry(entries);
}
