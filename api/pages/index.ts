import { asc, eq, inArray } from 'drizzle-orm';
import { type Context, Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { csrf } from 'hono/csrf';
import { html } from 'hono/html';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { can } from '../../auth/identities';
import { findModel } from '../../db/registry';
import { canaryLooks, driftReports } from '../../db/schema';
import type { ApiDeps } from '../deps';
import { ApiError } from '../errors';
import { pendingApprovals } from '../routes/approvals';
import { runService } from '../routes/runs';
import { DecisionBody, RunParams } from '../schemas';
import { decisionBody } from './decision';
import { inboxBody } from './inbox';
import { renderPage } from './layout';
import { type PageSession, SESSION_COOKIE, type SessionKeeper } from './session';

/**
 * The approval pages under /ui: sign-in with an API token, the inbox, and a
 * page per run with the evidence and the approve/reject form. Server-rendered
 * HTML with SVG charts and no script. Decisions go through the same code as
 * `POST /v1/models/:model/runs/:runId/approve|reject`, so the rules (role,
 * group, four-eyes, deadline, stale report) and their refusals are the API's.
 * Forms carry a per-session CSRF token, and every POST must come from this
 * origin (Origin / Sec-Fetch-Site).
 */
export function approvalPages(deps: ApiDeps, sessions: SessionKeeper) {
  const pages = new Hono();
  const runs = runService(deps);
  /** Looks older than this many are left out of the plots (a canary polled every second for days). */
  const MAX_LOOKS = 5000;

  pages.use('*', csrf());

  const sessionOf = (c: Context) => sessions.read(getCookie(c, SESSION_COOKIE));
  const toSignIn = (c: Context) => c.redirect(`/ui/sign-in?next=${encodeURIComponent(c.req.path)}`, 303);
  const problem = (c: Context, session: PageSession | null, status: ContentfulStatusCode, text: string) =>
    renderPage(c, {
      title: 'Problem',
      session,
      status,
      body: html`<h1>${text}</h1><p><a href="/ui/approvals">Back to the approvals</a></p>`,
    });

  pages.get('/', (c) => c.redirect('/ui/approvals', 303));

  pages.get('/sign-in', (c) => signInPage(c, sessions, safeNext(c.req.query('next')), null));
  pages.post('/sign-in', async (c) => {
    const form = await c.req.parseBody();
    const next = safeNext(typeof form.next === 'string' ? form.next : undefined);
    const token = typeof form.token === 'string' ? form.token : '';
    const signedIn = token.length > 0 && token.length <= 512 ? sessions.signIn(token) : null;
    if (!signedIn) return signInPage(c, sessions, next, 'Unknown or revoked token.', 401);
    setCookie(c, SESSION_COOKIE, signedIn.cookie, {
      path: '/ui',
      httpOnly: true,
      sameSite: 'Strict',
      secure: isHttps(c),
      maxAge: sessions.ttlSeconds,
    });
    return c.redirect(next, 303);
  });
  pages.post('/sign-out', async (c) => {
    const session = sessionOf(c);
    const form = await c.req.parseBody();
    if (session && !sessions.csrfMatches(session, str(form.csrf))) {
      return problem(c, session, 403, 'The form is out of date; reload the page and try again.');
    }
    deleteCookie(c, SESSION_COOKIE, { path: '/ui' });
    return c.redirect('/ui/sign-in', 303);
  });

  pages.get('/approvals', async (c) => {
    const session = sessionOf(c);
    if (!session) return toSignIn(c);
    const approvals = await pendingApprovals(deps, session.identity);
    return renderPage(c, { title: 'Approvals', session, body: inboxBody(approvals, session.identity.name) });
  });

  /** The run's page, with a notice on top (a refusal, or the decision just recorded). */
  const runPage = async (
    c: Context,
    session: PageSession,
    model: string,
    runId: string,
    notice: { kind: 'ok' | 'bad'; text: string } | null,
    status: ContentfulStatusCode = 200,
  ) => {
    let run: Awaited<ReturnType<typeof runs.describeRun>>;
    try {
      run = await runs.describeRun(model, runId);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return problem(c, session, 404, err.message);
      throw err;
    }
    const pending = (await pendingApprovals(deps, session.identity)).find((a) => a.runId === runId) ?? null;
    const reportIds = (Array.isArray(run.causes) ? run.causes : [])
      .map((cause) => (cause as { details?: { driftReportId?: unknown } }).details?.driftReportId)
      .filter((id): id is string => typeof id === 'string' && UUID.test(id));
    const [reports, looks, modelRow] = await Promise.all([
      reportIds.length
        ? deps.db.select().from(driftReports).where(inArray(driftReports.id, reportIds))
        : Promise.resolve([]),
      UUID.test(runId)
        ? deps.db
            .select()
            .from(canaryLooks)
            .where(eq(canaryLooks.runId, runId))
            .orderBy(asc(canaryLooks.id))
            .limit(MAX_LOOKS)
        : Promise.resolve([]),
      findModel(deps.db, model),
    ]);
    const alpha = (modelRow?.policy as { canary?: { alpha?: unknown } } | undefined)?.canary?.alpha;
    return renderPage(c, {
      title: `${model} · run ${runId.slice(0, 8)}`,
      session,
      status,
      body: await decisionBody({
        run,
        pending,
        driftReports: reports.filter((r) => r.model === model),
        looks,
        canaryAlpha: typeof alpha === 'number' ? alpha : null,
        session,
        notice,
      }),
    });
  };

  pages.get('/models/:model/runs/:runId', async (c) => {
    const session = sessionOf(c);
    if (!session) return toSignIn(c);
    const params = RunParams.safeParse(c.req.param());
    if (!params.success) return problem(c, session, 404, 'No such run.');
    const decided = c.req.query('decided');
    const notice =
      decided === 'approve' || decided === 'reject'
        ? { kind: 'ok' as const, text: `Your decision (${decided}) was recorded by the run.` }
        : null;
    return runPage(c, session, params.data.model, params.data.runId, notice);
  });

  pages.post('/models/:model/runs/:runId/decision', async (c) => {
    const session = sessionOf(c);
    if (!session) return toSignIn(c);
    const params = RunParams.safeParse(c.req.param());
    if (!params.success) return problem(c, session, 404, 'No such run.');
    const { model, runId } = params.data;
    const form = await c.req.parseBody();
    if (!sessions.csrfMatches(session, str(form.csrf))) {
      return problem(c, session, 403, 'The form is out of date; reload the page and try again.');
    }
    const decision = str(form.decision);
    const body = DecisionBody.safeParse({
      reason: str(form.reason)?.trim() || undefined,
      evaluationReportHash: str(form.evaluationReportHash) || undefined,
    });
    if ((decision !== 'approve' && decision !== 'reject') || !body.success) {
      const why = body.success
        ? 'choose Approve or Reject'
        : body.error.issues.map((i) => i.message).join('; ');
      return runPage(c, session, model, runId, { kind: 'bad', text: `Not sent: ${why}.` }, 400);
    }
    if (!can(session.identity.role, 'approve')) {
      const text = `Refused: ${session.identity.name} has role ${session.identity.role}, which may not approve.`;
      return runPage(c, session, model, runId, { kind: 'bad', text }, 403);
    }
    try {
      await runs.decideRun(decision, model, runId, session.identity, body.data);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      return runPage(c, session, model, runId, { kind: 'bad', text: `Refused: ${err.message}` }, err.status);
    }
    return c.redirect(`/ui/models/${model}/runs/${runId}?decided=${decision}`, 303);
  });

  return pages;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Where to go after signing in: a page of ours only (never another site: no open redirect). */
function safeNext(next: string | undefined): string {
  return next && /^\/ui\/[A-Za-z0-9/_.-]*$/.test(next) && !/\/\/|\.\./.test(next) ? next : '/ui/approvals';
}

function isHttps(c: Context): boolean {
  return new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';
}

function signInPage(
  c: Context,
  sessions: SessionKeeper,
  next: string,
  error: string | null,
  status: ContentfulStatusCode = 200,
) {
  const hours = Math.round((sessions.ttlSeconds / 3600) * 10) / 10;
  return renderPage(c, {
    title: 'Sign in',
    session: null,
    status,
    body: html`<h1>Sign in</h1>
      <p class="sub">With your ctloop API token (<code>npm run token</code> makes one). The page keeps a signed session cookie for ${hours} hours, never the token.</p>
      ${error ? html`<div class="banner bad" role="alert">${error}</div>` : ''}
      <section>
        <form class="signin" method="post" action="/ui/sign-in">
          <input type="hidden" name="next" value="${next}" />
          <label for="token">API token</label>
          <input id="token" name="token" type="password" autocomplete="current-password" required />
          <button type="submit">Sign in</button>
        </form>
      </section>`,
  });
}
