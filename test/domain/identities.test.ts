import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { permissionFor } from '../../api/auth';
import {
  createIdentityRegistry,
  generateToken,
  hashToken,
  loadIdentities,
  parseTokenEntries,
} from '../../auth/identities';

describe('API identities', () => {
  it('finds the identity of a token by its hash, and nobody for another token', () => {
    const token = generateToken();
    expect(token).toMatch(/^ctl_[A-Za-z0-9_-]{43}$/);
    const ids = createIdentityRegistry([
      { name: 'ana', role: 'approver', groups: ['b', 'a'], sha256: hashToken(token) },
    ]);
    expect(ids.authenticate(token)).toEqual({ name: 'ana', role: 'approver', groups: ['a', 'b'] });
    expect(ids.authenticate(generateToken())).toBeNull();
    expect(ids.authenticate('')).toBeNull();
    expect(ids.byName('ana')?.role).toBe('approver');
    expect(ids.byName('bob')).toBeNull();
  });

  it('refuses two tokens that give one name different rights', () => {
    expect(() =>
      createIdentityRegistry([
        { name: 'ana', role: 'approver', groups: [], sha256: hashToken('1') },
        { name: 'ana', role: 'admin', groups: [], sha256: hashToken('2') },
      ]),
    ).toThrow(/tokens for ana disagree/);
  });

  it('reads token files and the inline variable, and names what is wrong in a bad one', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ctloop-tokens-'));
    const file = path.join(dir, 'tokens.json');
    writeFileSync(
      file,
      JSON.stringify({ tokens: [{ name: 'ops', role: 'operator', sha256: hashToken('x') }] }),
    );
    const ids = loadIdentities({
      tokensFile: file,
      tokens: JSON.stringify([{ name: 'mon', role: 'trigger', sha256: hashToken('y') }]),
    });
    expect(ids.size).toBe(2);
    expect(ids.authenticate('x')?.name).toBe('ops');
    expect(ids.authenticate('y')?.role).toBe('trigger');
    expect(() => parseTokenEntries('[{"name":"a","role":"boss","sha256":"00"}]', 'CTLOOP_TOKENS')).toThrow(
      /CTLOOP_TOKENS: .*role.*sha256/s,
    );
    expect(() => parseTokenEntries('{', 'CTLOOP_TOKENS')).toThrow(/not JSON/);
    expect(() => loadIdentities({ tokensFile: path.join(dir, 'missing.json') })).toThrow(/cannot read/);
  });
});

describe('permissionFor', () => {
  it.each([
    ['GET', '/v1/models/m/runs', 'read'],
    ['POST', '/v1/models/m/predict', 'read'],
    ['POST', '/v1/models/m/triggers', 'trigger'],
    ['POST', '/v1/models/m/drift-reports', 'trigger'],
    ['POST', '/v1/models/m/feedback', 'trigger'],
    ['POST', '/v1/models/m/runs/r/approve', 'approve'],
    ['POST', '/v1/models/m/runs/r/reject', 'approve'],
    ['POST', '/v1/models/m/runs/r/cancel', 'operate'],
    ['POST', '/v1/models/m/rollback', 'operate'],
    ['PUT', '/v1/models/m/versions/2/fault', 'operate'],
    ['DELETE', '/v1/models/m/schedules/nightly', 'operate'],
    ['POST', '/v1/models', 'administer'],
    ['PUT', '/v1/models/m', 'administer'],
    ['POST', '/v1/something-new', 'administer'],
  ] as const)('%s %s needs %s', (method, p, permission) => {
    expect(permissionFor(method, p)).toBe(permission);
  });
});
