import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Role } from '../domain/roles';
import { generateToken, hashToken, type IdentityRegistry } from './identities';

/**
 * Development mode (`npm run dev`) makes fresh tokens at every start for a
 * small cast, so the whole loop (four-eyes approvals included) can be tried
 * on one machine. They are printed and written, readable by the owner only,
 * to `<data dir>/dev-tokens.json`, where `npm run demo` finds them.
 */
export const DEV_IDENTITIES: ReadonlyArray<{ name: string; role: Role; groups: string[] }> = [
  { name: 'dev-admin', role: 'admin', groups: [] },
  { name: 'dev-approver', role: 'approver', groups: ['ml-reviewers'] },
  { name: 'dev-lead', role: 'approver', groups: ['ml-leads'] },
  { name: 'dev-operator', role: 'operator', groups: [] },
  { name: 'dev-monitor', role: 'trigger', groups: [] },
];

export type DevTokens = Record<string, string>;

export const devTokensPath = (dataDir: string) => path.join(dataDir, 'dev-tokens.json');

export function issueDevTokens(identities: IdentityRegistry, dataDir: string): DevTokens {
  const tokens: DevTokens = {};
  for (const who of DEV_IDENTITIES) {
    const token = generateToken();
    identities.add({ ...who, sha256: hashToken(token) });
    tokens[who.name] = token;
  }
  const file = devTokensPath(dataDir);
  writeFileSync(file, `${JSON.stringify(tokens, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return tokens;
}

/** The tokens of a running dev stack, or null when there is none in `dataDir`. */
export function readDevTokens(dataDir: string): DevTokens | null {
  try {
    return JSON.parse(readFileSync(devTokensPath(dataDir), 'utf8')) as DevTokens;
  } catch {
    return null;
  }
}
