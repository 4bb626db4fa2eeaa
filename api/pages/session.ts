import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { hashToken, type Identity, type IdentityRegistry } from '../../auth/identities';

/**
 * Sessions of the approval pages. A person signs in once with their API
 * token; the page keeps a signed cookie, not the token:
 *
 *   v1.<sha256 of the token>.<expires, epoch s>.<nonce>.<HMAC-SHA256 of the rest>
 *
 * Stateless, so any API replica with the same secret (CTLOOP_SESSION_SECRET)
 * reads it; the identity is looked up by the token's hash on every request,
 * so revoking the token (removing it from the token file) ends its sessions.
 * The form token against cross-site requests (CSRF) is an HMAC of the
 * session's nonce: a page of another site can neither read nor forge it.
 */
export interface PageSession {
  readonly identity: Identity;
  /** Put in every form and checked on every POST. */
  readonly csrf: string;
  readonly expiresAt: Date;
}

export interface SessionKeeper {
  /** A new session for a presented API token, or null when the token is unknown. */
  signIn(token: string): { cookie: string; session: PageSession } | null;
  /** The session a cookie value carries, or null when it is missing, forged, expired or revoked. */
  read(cookie: string | undefined): PageSession | null;
  /** Whether a form's token belongs to this session. */
  csrfMatches(session: PageSession, presented: string | undefined): boolean;
  readonly ttlSeconds: number;
}

export const SESSION_COOKIE = 'ctloop_session';

/**
 * @param secret at least 32 bytes; a random one per process when absent
 *   (sessions then end when the process restarts and do not span replicas)
 */
export function createSessionKeeper(opts: {
  identities: IdentityRegistry;
  secret?: string;
  ttlSeconds?: number;
  now?: () => number;
}): SessionKeeper {
  const key = opts.secret ? Buffer.from(opts.secret, 'utf8') : randomBytes(32);
  if (key.length < 32) throw new Error('the session secret must be at least 32 bytes');
  const ttlSeconds = opts.ttlSeconds ?? 8 * 3600;
  const now = opts.now ?? Date.now;
  const mac = (text: string) => createHmac('sha256', key).update(text).digest('base64url');
  const csrfOf = (nonce: string) => mac(`csrf:${nonce}`);
  const same = (a: string, b: string) => {
    const x = Buffer.from(a);
    const y = Buffer.from(b);
    return x.length === y.length && timingSafeEqual(x, y);
  };

  return {
    ttlSeconds,
    signIn(token) {
      const hash = hashToken(token.trim());
      const identity = opts.identities.byTokenHash(hash);
      if (!identity) return null;
      const expires = Math.floor(now() / 1000) + ttlSeconds;
      const nonce = randomBytes(16).toString('base64url');
      const body = `v1.${hash}.${expires}.${nonce}`;
      return {
        cookie: `${body}.${mac(body)}`,
        session: { identity, csrf: csrfOf(nonce), expiresAt: new Date(expires * 1000) },
      };
    },
    read(cookie) {
      if (!cookie || cookie.length > 512) return null;
      const parts = cookie.split('.');
      if (parts.length !== 5 || parts[0] !== 'v1') return null;
      const [, hash, expiresText, nonce, signature] = parts as [string, string, string, string, string];
      if (!same(signature, mac(`v1.${hash}.${expiresText}.${nonce}`))) return null;
      const expires = Number(expiresText);
      if (!Number.isSafeInteger(expires) || expires * 1000 <= now()) return null;
      const identity = opts.identities.byTokenHash(hash);
      if (!identity) return null;
      return { identity, csrf: csrfOf(nonce), expiresAt: new Date(expires * 1000) };
    },
    csrfMatches(session, presented) {
      return typeof presented === 'string' && same(presented, session.csrf);
    },
  };
}
