/**
 * The approval pages (/ui) in a real browser: Debian's Chromium driven by
 * playwright-core, against the API served over HTTP on the test stack. An
 * approver signs in with her token, reads a drift-triggered run's evidence,
 * approves it, answers the canary's inconclusive-step question from its page,
 * and the run is promoted; the admin who triggered it is refused by
 * four-eyes and sees why. Screenshots of the inbox and the decision pages go
 * to docs/ for the README. Then the hostile cases, in process: no session,
 * forged cookies, missing or foreign CSRF, a viewer's decision, open redirects.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { serve } from '@hono/node-server';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bootstrapChampion,
  fastPolicy,
  sendTraffic,
  waitForRun,
  writeDataset,
} from '../../scripts/lib/scenario';
import { type Stack, startStack, type TestIdentity } from '../helpers/stack';

const repo = path.resolve(import.meta.dirname, '..', '..');
const docs = path.join(repo, 'docs');
const model = 'churn-pages';

/** The model's policy after its first version is live: every canary step that ends undecided asks a person. */
const askingPolicy = () => {
  const base = fastPolicy();
  return {
    ...base,
    canary: {
      ...(base.canary as object),
      steps: [10, 100],
      // More than a few seconds of test traffic: the step ends inconclusive and the run asks.
      minRequests: 100_000,
      stepMaxSeconds: 4,
      pollSeconds: 1,
      onInconclusive: 'ask',
    },
  };
};

describe('approval pages in Chromium', () => {
  let stack: Stack;
  let server: ReturnType<typeof serve>;
  let baseUrl: string;
  let browser: Browser;
  let shifted: string;

  const raw = (who: TestIdentity, method: string, url: string, body?: unknown) =>
    stack.app.request(url, {
      method,
      headers: { authorization: `Bearer ${stack.tokens[who]}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  beforeAll(async () => {
    const executablePath = execFileSync('bash', [path.join(repo, 'scripts', 'ensure-chromium')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();
    stack = await startStack();
    const port = await new Promise<number>((resolve) => {
      server = serve({ fetch: stack.app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) =>
        resolve(info.port),
      );
    });
    baseUrl = `http://127.0.0.1:${port}`;
    browser = await chromium.launch({
      executablePath,
      headless: true,
      // Chromium's own network traffic is refused by a closed network; none of it is needed here.
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const baseline = await writeDataset(stack.dataDir, 'baseline', { rows: 1500, seed: 81 });
    shifted = await writeDataset(stack.dataDir, 'shifted', { rows: 1500, seed: 82, shift: 1.5 });
    await bootstrapChampion(stack.api(), model, baseline, fastPolicy(), stack.api('alice'));
    expect((await raw('admin', 'PUT', `/v1/models/${model}`, { policy: askingPolicy() })).status).toBe(200);
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => (server ? server.close(r) : r(null)));
    await stack?.close();
  });

  /** A browser session signed in as `who` through the sign-in form. */
  async function signIn(who: TestIdentity): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1180, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${baseUrl}/ui/approvals`);
    expect(new URL(page.url()).pathname).toBe('/ui/sign-in');
    await page.fill('#token', stack.tokens[who]);
    await Promise.all([page.waitForURL(/\/ui\/approvals$/), page.click('form.signin button')]);
    return { context, page };
  }

  it('an approver reads the evidence and approves; the trigger-er is refused by four-eyes; the run is promoted', async () => {
    // dana (admin) sends the drift report that starts the retrain, so four-eyes keeps her from approving it.
    const accepted = await raw('dana', 'POST', `/v1/models/${model}/drift-reports`, { dataUri: shifted });
    expect(accepted.status).toBe(202);
    const { reportId } = (await accepted.json()) as { reportId: string };
    let runId = '';
    for (let i = 0; i < 300 && !runId; i++) {
      const report = (await (
        await raw('vera', 'GET', `/v1/models/${model}/drift-reports/${reportId}`)
      ).json()) as {
        runId: string | null;
      };
      runId = report.runId ?? '';
      if (!runId) await new Promise((r) => setTimeout(r, 100));
    }
    expect(runId).not.toBe('');
    await waitForRun(
      stack.api(),
      model,
      runId,
      (r) => r.stage === 'approve' && Boolean(r.live?.approval?.deadline),
    );
    const runPath = `/ui/models/${model}/runs/${runId}`;

    // dana sees the run in the inbox, not as hers to decide, and the page says why.
    const dana = await signIn('dana');
    const danaRow = dana.page.locator('#inbox tr', { hasText: model });
    await expect.poll(() => danaRow.textContent()).toContain('four-eyes: dana triggered this run');
    await dana.page.goto(`${baseUrl}${runPath}`);
    expect(await dana.page.locator('#why-not').textContent()).toContain(
      'four-eyes: dana triggered this run and may not decide it',
    );
    expect(await dana.page.locator('button.approve').isDisabled()).toBe(true);
    await dana.context.close();

    // alice: the inbox, then the run's page with its evidence.
    const alice = await signIn('alice');
    const row = alice.page.locator('#inbox tr', { hasText: model });
    expect(await row.textContent()).toMatch(/yours to decide/);
    expect(await row.textContent()).toMatch(/promote v2 over v1/);
    mkdirSync(docs, { recursive: true });
    await alice.page.screenshot({ path: path.join(docs, 'approval-inbox.png'), fullPage: true });

    await Promise.all([alice.page.waitForURL(new RegExp(`${runId}$`)), row.locator('a').first().click()]);
    const page = alice.page;
    expect(await page.locator('h1').textContent()).toBe(`Promote v2 of ${model} over v1?`);
    const causes = await page.locator('#causes').textContent();
    expect(causes).toContain('drift');
    expect(causes).toMatch(/x1: PSI [\d.]+ > 0.2/);
    expect(await page.locator('#causes svg').count()).toBe(1); // PSI per feature
    expect(await page.locator('#data').textContent()).toMatch(/valid\s+1500 rows pass 16 checks/);
    const evaluation = await page.locator('#evaluation').textContent();
    expect(evaluation).toContain('gate: pass');
    expect(evaluation).toMatch(/McNemar/);
    expect(await page.locator('#evaluation svg').count()).toBe(2); // accuracy per version, improvement intervals
    await page.screenshot({ path: path.join(docs, 'approval-decision.png'), fullPage: true });

    // Markup in a reason is text, not markup, wherever the page shows it.
    await page.fill('#reason', 'drifted window wins <b>clearly</b>');
    await Promise.all([page.waitForURL(/decided=approve$/), page.click('button.approve')]);
    expect(await page.locator('[role=status]').textContent()).toContain(
      'Your decision (approve) was recorded',
    );

    // The run goes on: into its canary, where a step with too little traffic asks a person.
    let trafficOn = true;
    const traffic = sendTraffic(stack.api('monitor'), model, readFileSync(shifted, 'utf8'), () => !trafficOn);
    const asking = await waitForRun(
      stack.api(),
      model,
      runId,
      (r) => r.live?.approval?.purpose === 'canary' && r.live.approval.decision === null,
      { timeoutMs: 60_000 },
    );
    expect(asking.audit).toContainEqual(
      expect.objectContaining({
        kind: 'vote_approve',
        actor: 'alice',
        reason: 'drifted window wins <b>clearly</b>',
      }),
    );
    await page.goto(`${baseUrl}/ui/approvals`);
    const question = page.locator('#inbox tr', { hasText: model });
    expect(await question.textContent()).toContain('canary question');
    await Promise.all([page.waitForURL(new RegExp(`${runId}$`)), question.locator('a').first().click()]);
    expect(await page.locator('h1').textContent()).toBe(`Go on with the canary of ${model} v2?`);
    expect(await page.locator('.banner.warn').textContent()).toMatch(/canary step at 10 % was inconclusive/);
    const canary = await page.locator('#canary').textContent();
    expect(canary).toMatch(/10 %\s+inconclusive/);
    // Error rate and latency per version over time, and the sequential tests' p-values.
    expect(await page.locator('#canary svg').count()).toBe(3);
    expect(await page.locator('#audit').textContent()).toContain('drifted window wins <b>clearly</b>');
    await page.screenshot({ path: path.join(docs, 'approval-canary-question.png'), fullPage: true });

    await page.fill('#reason', 'traffic is low tonight; go on');
    await Promise.all([page.waitForURL(/decided=approve$/), page.click('button.approve')]);
    const ended = await waitForRun(stack.api(), model, runId, (r) => r.outcome !== null, {
      timeoutMs: 90_000,
    });
    trafficOn = false;
    const sent = await traffic;
    expect(ended.outcome).toBe('promoted');
    expect(sent.sent).toBeGreaterThan(0);
    // The page of an ended run says so and offers no form.
    await page.goto(`${baseUrl}${runPath}`);
    expect(await page.locator('#decision').textContent()).toContain('it ended: promoted');
    expect(await page.locator('form.decide').count()).toBe(0);
    await alice.context.close();
  }, 240_000);

  describe('hostile requests (in process)', () => {
    const origin = 'http://localhost';
    const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
    const formHeaders = (cookie?: string, from = origin) => ({
      'content-type': 'application/x-www-form-urlencoded',
      origin: from,
      ...(cookie ? { cookie } : {}),
    });
    async function session(who: TestIdentity) {
      const res = await stack.app.request('/ui/sign-in', {
        method: 'POST',
        headers: formHeaders(),
        body: form({ token: stack.tokens[who], next: '/ui/approvals' }),
      });
      expect(res.status).toBe(303);
      const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
      expect(res.headers.get('set-cookie')).toMatch(/HttpOnly/i);
      expect(res.headers.get('set-cookie')).toMatch(/SameSite=Strict/i);
      const page = await (await stack.app.request('/ui/approvals', { headers: { cookie } })).text();
      const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';
      expect(csrf).not.toBe('');
      return { cookie, csrf };
    }
    const decide = (cookie: string, fields: Record<string, string>, from = origin, runId = 'no-such-run') =>
      stack.app.request(`/ui/models/${model}/runs/${runId}/decision`, {
        method: 'POST',
        headers: formHeaders(cookie, from),
        body: form({ decision: 'approve', ...fields }),
      });

    it('sends a visitor without a session to sign in, and signs in only with a known token', async () => {
      const res = await stack.app.request('/ui/approvals');
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/ui/sign-in?next=%2Fui%2Fapprovals');
      const bad = await stack.app.request('/ui/sign-in', {
        method: 'POST',
        headers: formHeaders(),
        body: form({ token: 'ctl_not-a-token' }),
      });
      expect(bad.status).toBe(401);
      expect(await bad.text()).toContain('Unknown or revoked token.');
      expect(bad.headers.get('set-cookie')).toBeNull();
      // Never a redirect to another site after signing in.
      for (const next of ['//evil.example/ui/x', 'https://evil.example/', '/v1/models', '/ui/../v1']) {
        const res = await stack.app.request('/ui/sign-in', {
          method: 'POST',
          headers: formHeaders(),
          body: form({ token: stack.tokens.vera, next }),
        });
        expect(res.headers.get('location'), next).toBe('/ui/approvals');
      }
    });

    it('refuses forged sessions, forms without the session token and forms from another site', async () => {
      const { cookie, csrf } = await session('alice');
      const tampered = cookie.replace(/.$/, (ch) => (ch === 'A' ? 'B' : 'A'));
      expect((await stack.app.request('/ui/approvals', { headers: { cookie: tampered } })).status).toBe(303);

      const noToken = await decide(cookie, {});
      expect(noToken.status).toBe(403);
      expect(await noToken.text()).toContain('The form is out of date');
      const otherSessionsToken = await decide(cookie, { csrf: (await session('bob')).csrf });
      expect(otherSessionsToken.status).toBe(403);
      const crossSite = await decide(cookie, { csrf }, 'https://evil.example');
      expect(crossSite.status).toBe(403);
      // With everything right the run's rules answer: this run does not exist.
      const missing = await decide(cookie, { csrf });
      expect(missing.status).toBe(404);
      expect(await missing.text()).toContain('run no-such-run of model churn-pages not found');
    });

    it('shows a viewer that she may not approve, and answers pages for what does not exist with 404', async () => {
      const { cookie, csrf } = await session('vera');
      const runs = (await (await raw('vera', 'GET', `/v1/models/${model}/runs`)).json()) as {
        runs: { id: string }[];
      };
      const refused = await decide(cookie, { csrf }, origin, runs.runs.at(-1)!.id);
      expect(refused.status).toBe(403);
      expect(await refused.text()).toContain('vera has role viewer, which may not approve');
      const missing = await stack.app.request('/ui/models/NOT_A_MODEL/runs/x', { headers: { cookie } });
      expect(missing.status).toBe(404);
      const page = await stack.app.request('/ui/approvals', { headers: { cookie } });
      expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(await page.text()).not.toContain('<script');
    });
  });
});
