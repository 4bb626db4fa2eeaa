import type { Context } from 'hono';
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { PageSession } from './session';

/**
 * The frame of every approval page: a header with who is signed in, plain
 * CSS, no script. Values interpolated with `html` are escaped; only the
 * server's own SVG charts go in with `raw`.
 */

export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

const STYLE = `
:root { --fg: #1d232b; --muted: #5b6672; --line: #d9dee4; --ok: #1e7d45; --bad: #b3261e; --warn: #8a5a00; --accent: #2c6fbb; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 "DejaVu Sans", Helvetica, Arial, sans-serif; color: var(--fg); background: #f6f7f9; }
header { display: flex; align-items: center; gap: 16px; padding: 10px 24px; background: #1b2733; color: #fff; }
header a { color: #fff; text-decoration: none; }
header .brand { font-weight: bold; font-size: 16px; }
header .who { margin-left: auto; color: #c9d3dd; }
header form { margin: 0; }
header button { background: transparent; color: #c9d3dd; border: 1px solid #51606f; border-radius: 4px; padding: 3px 10px; cursor: pointer; }
main { max-width: 1100px; margin: 0 auto; padding: 20px 24px 48px; }
h1 { font-size: 21px; margin: 4px 0 2px; }
h2 { font-size: 16px; margin: 0 0 8px; }
.sub { color: var(--muted); margin: 0 0 16px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 14px 18px; margin: 0 0 14px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: normal; font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
td.num { font-variant-numeric: tabular-nums; text-align: right; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; border: 1px solid currentColor; }
.pass, .ok, .approve { color: var(--ok); }
.fail, .bad, .reject, .regressed { color: var(--bad); }
.inconclusive, .wait, .warn { color: var(--warn); }
.banner { padding: 10px 14px; border-radius: 6px; margin: 0 0 14px; border: 1px solid; }
.banner.bad { background: #fdecea; border-color: #f3b8b3; }
.banner.ok { background: #e8f5ec; border-color: #a9d8b8; }
.banner.warn { background: #fff6e0; border-color: #f0d28a; }
ul.reasons { margin: 4px 0 0; padding-left: 20px; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; }
.chart { overflow-x: auto; margin: 8px 0; }
.chart svg { max-width: 100%; height: auto; }
form.decide textarea { width: 100%; min-height: 64px; font: inherit; padding: 6px; border: 1px solid var(--line); border-radius: 4px; }
form.decide .buttons { display: flex; gap: 10px; margin-top: 8px; }
button.approve, button.reject, form.signin button { font: inherit; padding: 7px 18px; border-radius: 4px; border: 0; color: #fff; cursor: pointer; }
button.approve { background: var(--ok); }
button.reject { background: var(--bad); }
button[disabled] { opacity: .45; cursor: not-allowed; }
form.signin { max-width: 420px; }
form.signin input { width: 100%; font: inherit; padding: 7px; margin: 6px 0 10px; border: 1px solid var(--line); border-radius: 4px; }
form.signin button { background: var(--accent); }
code, .mono { font-family: "DejaVu Sans Mono", Menlo, monospace; font-size: 12px; }
a { color: var(--accent); }
.muted { color: var(--muted); }
`;

/** No script at all; styles inline; forms only to this origin; never framed. */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export function renderPage(
  c: Context,
  opts: { title: string; session: PageSession | null; body: Html; status?: ContentfulStatusCode },
) {
  c.header('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  c.header('X-Content-Type-Options', 'nosniff');
  c.header('Referrer-Policy', 'no-referrer');
  c.header('Cache-Control', 'no-store');
  const who = opts.session
    ? html`<span class="who">${opts.session.identity.name} · ${opts.session.identity.role}</span>
        <form method="post" action="/ui/sign-out">
          <input type="hidden" name="csrf" value="${opts.session.csrf}" />
          <button type="submit">Sign out</button>
        </form>`
    : html``;
  return c.html(
    html`<!doctype html>
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title>${opts.title} · ctloop</title>
          <style>
            ${STYLE}
          </style>
        </head>
        <body>
          <header>
            <a class="brand" href="/ui/approvals">ctloop</a>
            <a href="/ui/approvals">Approvals</a>
            ${who}
          </header>
          <main>${opts.body}</main>
        </body>
      </html>`,
    opts.status ?? 200,
  );
}

export function badge(text: string, kind: string = text) {
  return html`<span class="badge ${kind}">${text}</span>`;
}

/** "in 58 min", "3 h ago": for deadlines, next to the exact UTC time. */
export function relativeTime(iso: string | Date | null, now = Date.now()): string {
  if (!iso) return '';
  const ms = new Date(iso).getTime() - now;
  const minutes = Math.round(Math.abs(ms) / 60_000);
  const span =
    minutes < 1
      ? 'under a minute'
      : minutes < 90
        ? `${minutes} min`
        : minutes < 48 * 60
          ? `${Math.round(minutes / 60)} h`
          : `${Math.round(minutes / 1440)} days`;
  return ms >= 0 ? `in ${span}` : `${span} ago`;
}

export function utc(iso: string | Date | null): string {
  return iso ? `${new Date(iso).toISOString().slice(0, 16).replace('T', ' ')} UTC` : '—';
}

/** A metric value for people: 4 decimals, or — for none. */
export function num(value: unknown, digits = 4): string {
  return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : '—';
}
