/**
 * Roles and what each may do. Pure, so that the API (checking a token's role)
 * and the run workflow (judging an approver sent by a signal) share one table.
 */

export const ROLES = ['viewer', 'trigger', 'approver', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/**
 * - `read`: every GET, and predictions at the gateway
 * - `trigger`: ask for retrains and send evidence (drift reports, metrics, feedback labels)
 * - `approve`: decide approvals
 * - `operate`: rollbacks, cancels, canary control, freezes, fault injection, schedules
 * - `administer`: register models and change policies
 */
export const PERMISSIONS = ['read', 'trigger', 'approve', 'operate', 'administer'] as const;
export type Permission = (typeof PERMISSIONS)[number];

const GRANTS: Record<Role, readonly Permission[]> = {
  viewer: ['read'],
  trigger: ['read', 'trigger'],
  approver: ['read', 'approve'],
  operator: ['read', 'trigger', 'operate'],
  admin: PERMISSIONS,
};

/** @example can('approver', 'approve') // => true; can('viewer', 'trigger') // => false */
export function can(role: Role, permission: Permission): boolean {
  return GRANTS[role]?.includes(permission) ?? false;
}

export interface Identity {
  readonly name: string;
  readonly role: Role;
  /** Approval groups this identity belongs to (an approval policy may name one). */
  readonly groups: readonly string[];
}
