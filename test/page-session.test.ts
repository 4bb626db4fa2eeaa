import { describe, expect, it } from 'vitest';
import { pairedAccuracyInterval, wilsonInterval } from '../api/pages/evidence';
import { createSessionKeeper } from '../api/pages/session';
import { createIdentityRegistry, generateToken, hashToken } from '../auth/identities';

describe('approval page sessions', () => {
  const token = generateToken();
  const other = generateToken();
  const setup = (now = () => 1_800_000_000_000) => {
    const identities = createIdentityRegistry([
      { name: 'ana', role: 'approver', groups: [], sha256: hashToken(token) },
      { name: 'ben', role: 'viewer', groups: [], sha256: hashToken(other) },
    ]);
    return createSessionKeeper({ identities, secret: 's'.repeat(32), ttlSeconds: 3600, now });
  };

  it('signs in with a known token only, and reads its own cookie back as the same person', () => {
    const keeper = setup();
    expect(keeper.signIn('ctl_unknown')).toBeNull();
    const signed = keeper.signIn(token)!;
    expect(signed.cookie).not.toContain(token);
    expect(keeper.read(signed.cookie)).toMatchObject({
      identity: { name: 'ana' },
      csrf: signed.session.csrf,
    });
  });

  it('refuses tampered, foreign, expired and revoked sessions', () => {
    let now = 1_800_000_000_000;
    const keeper = setup(() => now);
    const { cookie } = keeper.signIn(token)!;
    const [v, hash, expires, nonce, mac] = cookie.split('.');
    // ben's token hash with ana's signature: the signature covers the hash.
    expect(keeper.read([v, hashToken(other), expires, nonce, mac].join('.'))).toBeNull();
    // A later expiry with the old signature.
    expect(keeper.read([v, hash, Number(expires) + 86_400, nonce, mac].join('.'))).toBeNull();
    expect(keeper.read(undefined)).toBeNull();
    expect(keeper.read('x'.repeat(600))).toBeNull();
    // Signed by another secret (another deployment).
    const foreign = createSessionKeeper({
      identities: createIdentityRegistry([
        { name: 'ana', role: 'approver', groups: [], sha256: hashToken(token) },
      ]),
      secret: 't'.repeat(32),
    });
    expect(keeper.read(foreign.signIn(token)!.cookie)).toBeNull();
    // Expired after its time to live.
    now += 3601_000;
    expect(keeper.read(cookie)).toBeNull();
    // Revoked: the token is no longer in the registry that reads the cookie.
    const revoked = createSessionKeeper({ identities: createIdentityRegistry(), secret: 's'.repeat(32) });
    expect(revoked.read(setup().signIn(token)!.cookie)).toBeNull();
  });

  it("ties the form token to its session: another session's token does not match", () => {
    const keeper = setup();
    const a = keeper.signIn(token)!.session;
    const b = keeper.signIn(token)!.session;
    expect(keeper.csrfMatches(a, a.csrf)).toBe(true);
    expect(keeper.csrfMatches(a, b.csrf)).toBe(false);
    expect(keeper.csrfMatches(a, undefined)).toBe(false);
    expect(keeper.csrfMatches(a, '')).toBe(false);
  });

  it('refuses a short secret', () => {
    expect(() => createSessionKeeper({ identities: createIdentityRegistry(), secret: 'short' })).toThrow(
      /32 bytes/,
    );
  });
});

describe('the intervals the decision page draws', () => {
  it('Wilson 95 % intervals match published values', () => {
    // 0 of 10 and 1 of 1: the textbook cases where the normal approximation fails.
    expect(wilsonInterval(0, 10)!.upper).toBeCloseTo(0.2775, 4);
    expect(wilsonInterval(1, 1)!.lower).toBeCloseTo(0.2065, 4);
    // 267 of 300 (R: prop.test(267, 300, correct = FALSE)$conf.int → 0.8495, 0.9206).
    const ci = wilsonInterval(0.89, 300)!;
    expect(ci.lower).toBeCloseTo(0.8495, 4);
    expect(ci.upper).toBeCloseTo(0.9206, 4);
    expect(wilsonInterval(0.5, 0)).toBeNull();
  });

  it('the paired accuracy difference comes from the discordant counts', () => {
    const ci = pairedAccuracyInterval(20, 93, 300)!;
    expect(ci.estimate).toBeCloseTo(73 / 300, 12);
    // var = (b + c − (c − b)²/n) / n² = (113 − 17.763…) / 90000
    const half = 1.959963984540054 * Math.sqrt((113 - (73 * 73) / 300) / 90_000);
    expect(ci.upper - ci.estimate).toBeCloseTo(half, 12);
    expect(pairedAccuracyInterval(10, 0, 10)).toMatchObject({ estimate: -1, lower: -1, upper: -1 });
    expect(pairedAccuracyInterval(6, 6, 10)).toBeNull();
  });
});
