import type { Context, MiddlewareHandler } from 'hono';
import { can, type Identity, type IdentityRegistry, type Permission } from '../auth/identities';
import { errorBody } from './errors';

/** Hono's per-request variables: the caller, once authenticated. */
export interface AuthEnv {
  Variables: { identity: Identity };
}

/**
 * Which permission each call needs. Reads need `read`; a mutating call not
 * listed here needs `administer`, so a new route is closed until it is given
 * a narrower permission on purpose.
 */
const RULES: ReadonlyArray<readonly [method: string, path: RegExp, permission: Permission]> = [
  ['POST', /^\/v1\/models\/[^/]+\/predict$/, 'read'],
  ['POST', /^\/v1\/models\/[^/]+\/(triggers|drift-reports|metrics|feedback)$/, 'trigger'],
  ['POST', /^\/v1\/models\/[^/]+\/runs\/[^/]+\/(approve|reject)$/, 'approve'],
  ['POST', /^\/v1\/models\/[^/]+\/runs\/[^/]+\/[a-z-]+$/, 'operate'],
  ['POST', /^\/v1\/models\/[^/]+\/(rollback|freeze|unfreeze)$/, 'operate'],
  ['PUT', /^\/v1\/models\/[^/]+\/versions\/[^/]+\/fault$/, 'operate'],
  ['POST', /^\/v1\/models\/[^/]+\/versions\/[^/]+\/fault$/, 'operate'],
  ['*', /^\/v1\/models\/[^/]+\/schedules(\/.*)?$/, 'operate'],
];

export function permissionFor(method: string, path: string): Permission {
  if (method === 'GET' || method === 'HEAD') return 'read';
  for (const [m, pattern, permission] of RULES) {
    if ((m === '*' || m === method) && pattern.test(path)) return permission;
  }
  return 'administer';
}

/** `Authorization: Bearer <token>`; the token is the first group. */
export const BEARER = /^Bearer\s+(\S+)\s*$/i;

/**
 * Bearer-token authentication and role checks for everything under /v1.
 * No or unknown token → 401; a role without the call's permission → 403.
 */
export function requireAuth(identities: IdentityRegistry): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = BEARER.exec(header);
    if (!match) {
      c.header('WWW-Authenticate', 'Bearer realm="ctloop"');
      return c.json(
        errorBody('unauthenticated', 'send an API token as `Authorization: Bearer <token>`'),
        401,
      );
    }
    const identity = identities.authenticate(match[1]!);
    if (!identity) {
      c.header('WWW-Authenticate', 'Bearer realm="ctloop", error="invalid_token"');
      return c.json(errorBody('unauthenticated', 'unknown or revoked API token'), 401);
    }
    const permission = permissionFor(c.req.method, c.req.path);
    if (!can(identity.role, permission)) {
      return c.json(
        errorBody(
          'forbidden',
          `${identity.name} has role ${identity.role}, which may not ${permission} (${c.req.method} ${c.req.path})`,
          { role: identity.role, required: permission },
        ),
        403,
      );
    }
    c.set('identity', identity);
    await next();
  };
}

/** The authenticated caller; every mutating call records this name as its actor. */
export function callerOf(c: Context): Identity {
  const identity = (c as Context<AuthEnv>).get('identity');
  if (!identity) throw new Error('callerOf: route is not behind requireAuth');
  return identity;
}
