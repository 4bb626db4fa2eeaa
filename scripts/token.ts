import { generateToken, hashToken } from '../auth/identities';
import { ROLES, type Role } from '../domain/roles';

/**
 * `npm run token -- <name> <role> [group,group]`: makes a new API token.
 * Prints the token once (hand it to its owner) and the entry to add to
 * CTLOOP_TOKENS_FILE or CTLOOP_TOKENS, which holds only its SHA-256.
 */
const [name, role, groups] = process.argv.slice(2);
if (!name || !role || !(ROLES as readonly string[]).includes(role)) {
  console.error(`usage: npm run token -- <name> <${ROLES.join('|')}> [group,group,...]`);
  process.exit(2);
}
const token = generateToken();
const entry = {
  name,
  role: role as Role,
  groups: groups ? groups.split(',').filter(Boolean) : [],
  sha256: hashToken(token),
};
console.log(`token (give it to ${name}; ctloop keeps only its hash):\n  ${token}\n`);
console.log(`entry for CTLOOP_TOKENS_FILE / CTLOOP_TOKENS:\n  ${JSON.stringify(entry)}`);
