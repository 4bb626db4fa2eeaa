import { html, raw } from 'hono/html';
import type { CanaryLookRow, DriftReportRow } from '../../db/schema';
import type { pendingApprovals } from '../routes/approvals';
import type { runService } from '../routes/runs';
import { barChart, type IntervalRow, intervalChart, type SeriesPoint, timeChart } from './charts';
import { pairedAccuracyInterval, wilsonInterval } from './evidence';
import { badge, type Html, num, relativeTime, utc } from './layout';
import type { PageSession } from './session';

/**
 * One run's decision page: everything an approver weighs, in the order they
 * weigh it (why the run started, the data, the training, candidate vs
 * champion, the canary so far), then the votes and the form. Stage reports
 * are free-form JSON written by each stage; this page reads them defensively
 * and shows what is there.
 */

export type DescribedRun = Awaited<ReturnType<ReturnType<typeof runService>['describeRun']>>;
export type PendingApproval = Awaited<ReturnType<typeof pendingApprovals>>[number];

export interface DecisionPageData {
  readonly run: DescribedRun;
  /** The run's entry in the inbox while it waits for a decision; null otherwise. */
  readonly pending: PendingApproval | null;
  readonly driftReports: readonly DriftReportRow[];
  readonly looks: readonly CanaryLookRow[];
  /** α of the canary's sequential tests (the model's policy). */
  readonly canaryAlpha: number | null;
  readonly session: PageSession;
  /** A refusal or a recorded decision to show at the top. */
  readonly notice: { kind: 'ok' | 'bad'; text: string } | null;
}

// biome-ignore lint/suspicious/noExplicitAny: stage reports are free-form JSON; every read below is guarded
type Json = any;
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const list = (v: unknown): Json[] => (Array.isArray(v) ? v : []);

export async function decisionBody(d: DecisionPageData): Promise<Html> {
  const { run, pending } = d;
  const live = run.live;
  const evaluation: Json = (run.reports as Json)?.evaluation ?? null;
  const candidate =
    pending?.candidateVersion ?? evaluation?.candidateVersion ?? live?.candidateVersion ?? null;
  const champion = pending?.championVersion ?? evaluation?.championVersion ?? live?.championVersion ?? null;
  const question =
    pending?.purpose === 'canary'
      ? `Go on with the canary of ${run.model} v${candidate}?`
      : `Promote v${candidate ?? '?'} of ${run.model}${champion ? ` over v${champion}` : ''}?`;
  const title = pending ? question : `Run ${run.id} of ${run.model}`;
  return html`
    <p class="sub"><a href="/ui/approvals">← Approvals</a></p>
    <h1>${title}</h1>
    <p class="sub">
      run <span class="mono">${run.id}</span> · stage ${badge(run.stage, 'muted')}
      ${run.outcome ? html` · outcome ${badge(run.outcome, run.outcome === 'promoted' ? 'ok' : 'bad')}` : ''} ·
      started ${utc(run.startedAt)}
    </p>
    ${d.notice ? html`<div class="banner ${d.notice.kind}" role="status">${d.notice.text}</div>` : ''}
    ${pending?.purpose === 'canary' && pending.question ? html`<div class="banner warn"><strong>The question:</strong> ${pending.question}</div>` : ''}
    ${await causesSection(run, d.driftReports)} ${dataSection(run)} ${trainingSection(run)}
    ${await evaluationSection(evaluation)} ${await canarySection(run, d.looks, d.canaryAlpha)}
    ${decisionSection(d)} ${auditSection(run)}
  `;
}

async function causesSection(run: DescribedRun, driftReports: readonly DriftReportRow[]): Promise<Html> {
  const causes = list(run.causes);
  const charts = await Promise.all(
    driftReports.map(async (r) => {
      const features = list((r.report as Json)?.features).filter((f) => isNum(f?.psi));
      if (features.length === 0) return '';
      const threshold = (r.report as Json)?.policy?.psiThreshold;
      const svg = await barChart(
        features.slice(0, 40).map((f) => ({ label: String(f.name ?? f.feature ?? '?'), value: f.psi })),
        {
          title: `Drift report ${r.id.slice(0, 8)}: PSI per feature (current vs reference)`,
          xTitle: 'PSI',
          threshold: isNum(threshold) ? threshold : undefined,
        },
      );
      return html`<div class="chart">${raw(svg)}</div>
        <p class="muted">
          ${r.source === 'ctloop' ? 'computed by ctloop' : 'sent by a monitor'} · current
          <span class="mono">${r.currentUri ?? '—'}</span> vs reference
          <span class="mono">${r.referenceUri ?? '—'}</span>${isNum(threshold) ? ` · dashed line: PSI ${threshold}` : ''}
        </p>`;
    }),
  );
  return html`<section id="causes">
    <h2>Why this run started</h2>
    <table>
      <tr><th>Cause</th><th>Asked by</th><th>When</th><th>Details</th></tr>
      ${causes.map(
        (cause) => html`<tr>
          <td>${badge(String(cause?.reason ?? '?'), 'muted')}</td>
          <td>${String(cause?.requestedBy ?? '—')}</td>
          <td>${utc(cause?.receivedAt ?? null)}</td>
          <td>${causeDetails(cause?.details)}</td>
        </tr>`,
      )}
    </table>
    ${charts}
  </section>`;
}

function causeDetails(details: Json): Html {
  if (!details || typeof details !== 'object') return html`—`;
  const reasons = list(details.reasons).map(String);
  const rest = Object.entries(details).filter(([k]) => k !== 'reasons');
  return html`${rest.map(
    ([k, v]) =>
      html`<div><span class="muted">${k}:</span> <span class="mono">${typeof v === 'object' ? JSON.stringify(v) : String(v)}</span></div>`,
  )}
  ${reasons.length ? html`<ul class="reasons">${reasons.map((r) => html`<li>${r}</li>`)}</ul>` : ''}`;
}

function dataSection(run: DescribedRun): Html {
  const validation: Json = (run.reports as Json)?.validation;
  if (!validation) return html``;
  const checks = list(validation.report?.checks);
  const failed = checks.filter((c) => !c?.ok);
  return html`<section id="data">
    <h2>Data and validation</h2>
    <p>
      ${badge(validation.ok ? 'valid' : 'invalid', validation.ok ? 'ok' : 'bad')} ${String(validation.summary ?? '')}
    </p>
    <p class="muted">
      data <span class="mono">${run.dataUri ?? '—'}</span> · content hash
      <span class="mono">${String(validation.dataHash ?? '—').slice(0, 16)}…</span>
    </p>
    ${windowLine((run.reports as Json)?.data)}
    ${failed.length ? html`<ul class="reasons bad">${failed.map((c) => html`<li>${String(c.name)}: ${String(c.message)}</li>`)}</ul>` : ''}
    <details>
      <summary>All ${checks.length} checks</summary>
      <table>
        ${checks.map(
          (c) =>
            html`<tr><td>${badge(c?.ok ? 'ok' : 'failed', c?.ok ? 'ok' : 'bad')}</td><td class="mono">${String(c?.name)}</td><td>${String(c?.message ?? '')}</td></tr>`,
        )}
      </table>
    </details>
  </section>`;
}

/** The training window of a partitioned source: which days, how many partitions, what was held out. */
function windowLine(data: Json): Html {
  if (!data) return html``;
  if (data.error) return html`<p class="bad">window: ${String(data.error)}</p>`;
  const parts = list(data.partitions);
  const held = parts.filter((p) => p?.role === 'holdout');
  return html`<p>
    window <strong>${String(data.from)} … ${String(data.to)}</strong>${data.override ? ' (named by the trigger)' : ''}:
    ${parts.length} partitions, ${String(data.rows)} rows;
    ${held.length ? `hold-out: the newest ${held.length} partitions (${held[0]?.date} … ${held.at(-1)?.date}), ${data.holdoutRows} rows` : 'hold-out: the last rows by the policy’s share'}
    · content hash <span class="mono">${String(data.contentHash ?? '').slice(0, 16)}…</span>
  </p>`;
}

function trainingSection(run: DescribedRun): Html {
  const t: Json = (run.reports as Json)?.training;
  const attempts: Json = (run.reports as Json)?.trainingAttempts;
  if (!t) return html``;
  return html`<section id="training">
    <h2>Training</h2>
    <table>
      <tr><th>Trainer</th><th>Device</th><th>Steps</th><th>Attempts</th><th>Preemptions</th><th>Resumed from</th><th>Final loss</th></tr>
      <tr>
        <td>${String(t.trainer ?? '—')}</td>
        <td>${String(t.device ?? '—')}</td>
        <td class="num">${String(t.step ?? '—')} / ${String(t.total ?? '—')}</td>
        <td class="num">${String(attempts?.attempts ?? t.attempt ?? '—')}</td>
        <td class="num">${String(attempts?.preemptions ?? 0)}</td>
        <td class="num">${t.resumedFromStep == null ? '—' : `step ${t.resumedFromStep}`}</td>
        <td class="num">${num(t.metrics?.loss)}</td>
      </tr>
    </table>
  </section>`;
}

async function evaluationSection(evaluation: Json): Promise<Html> {
  if (!evaluation) return html``;
  const gate: Json = evaluation.gate ?? {};
  const cand: Json = evaluation.candidate ?? {};
  const champ: Json = evaluation.champion ?? null;
  const decision = String(gate.decision ?? evaluation.verdict?.decision ?? '—');
  const metrics = Object.keys(cand).filter((k) => k !== 'n' && isNum(cand[k]));

  // Accuracy of each version with its Wilson interval, and every tested improvement with its interval.
  const versions: IntervalRow[] = [];
  for (const [label, m] of [
    [`candidate v${evaluation.candidateVersion ?? '?'}`, cand],
    [`champion v${evaluation.championVersion ?? '?'}`, champ],
  ] as const) {
    const ci = m && isNum(m.accuracy) && isNum(m.n) ? wilsonInterval(m.accuracy, m.n) : null;
    if (ci) versions.push({ label, estimate: m.accuracy, ...ci });
  }
  const improvements: IntervalRow[] = [];
  const primary: Json = gate.primary;
  const test: Json = primary?.test;
  if (test?.kind === 'bootstrap' && isNum(test.lower) && isNum(test.upper)) {
    improvements.push({
      label: `${primary.metric} (primary)`,
      estimate: primary.improvement,
      lower: test.lower,
      upper: test.upper,
    });
  } else if (test?.kind === 'mcnemar' && isNum(gate.rows)) {
    const ci = pairedAccuracyInterval(test.b, test.c, gate.rows);
    if (ci) improvements.push({ label: 'accuracy (primary)', ...ci });
  }
  for (const g of list(gate.guardrails)) {
    if (isNum(g?.interval?.lower) && isNum(g?.interval?.upper) && isNum(g?.improvement)) {
      improvements.push({
        label: `${g.metric} (guardrail)`,
        estimate: g.improvement,
        lower: g.interval.lower,
        upper: g.interval.upper,
      });
    }
  }
  const charts = [
    versions.length
      ? await intervalChart(versions, {
          title: 'Hold-out accuracy (95 % Wilson CI)',
          xTitle: 'accuracy',
        })
      : '',
    improvements.length
      ? await intervalChart(improvements, {
          title: 'Candidate − champion (95 % CI; right of 0 is better)',
          xTitle: 'improvement',
          reference: 0,
        })
      : '',
  ].filter(Boolean);

  return html`<section id="evaluation">
    <h2>Candidate vs champion ${badge(`gate: ${decision}`, decision)}</h2>
    <ul class="reasons">${list(gate.reasons ?? evaluation.verdict?.reasons).map((r) => html`<li>${String(r)}</li>`)}</ul>
    <table>
      <tr><th>Metric</th><th>Candidate</th><th>Champion</th></tr>
      <tr><td>rows (hold-out)</td><td class="num">${String(cand.n ?? '—')}</td><td class="num">${String(champ?.n ?? '—')}</td></tr>
      ${metrics.map((m) => html`<tr><td>${m}</td><td class="num">${num(cand[m])}</td><td class="num">${num(champ?.[m])}</td></tr>`)}
    </table>
    ${test ? html`<p class="muted">${testLine(test)}</p>` : ''}
    <div class="grid">${charts.map((svg) => html`<div class="chart">${raw(svg)}</div>`)}</div>
    ${checksTable('Guardrails', list(gate.guardrails), (g) => [g.metric, g.breached ? 'breached' : 'ok', g.reason])}
    ${checksTable('Slices', list(gate.slices), (s) => [`${s.column} = ${s.value} (${s.rows} rows)`, s.status, s.reason])}
    ${checksTable('Minimums', list(gate.minimums), (m) => [m.metric, m.met ? 'met' : 'not met', m.reason])}
  </section>`;
}

function testLine(test: Json): string {
  if (test.kind === 'mcnemar') {
    return `McNemar (${test.method}): champion right / candidate wrong b = ${test.b}, the reverse c = ${test.c}, p = ${Number(test.pValue).toExponential(2)}`;
  }
  return `paired bootstrap (${test.resamples} resamples): estimate ${num(test.estimate)}, ${Math.round(100 * (1 - test.alpha))} % CI [${num(test.lower)}, ${num(test.upper)}]`;
}

function checksTable(title: string, rows: Json[], cells: (row: Json) => [string, string, string]): Html {
  if (rows.length === 0) return html``;
  return html`<h2 style="margin-top:14px">${title}</h2>
    <table>
      ${rows.map((row) => {
        const [what, status, reason] = cells(row).map(String) as [string, string, string];
        const kind = /breached|regressed|not met/.test(status) ? 'bad' : status === 'skipped' ? 'warn' : 'ok';
        return html`<tr><td>${what}</td><td>${badge(status, kind)}</td><td>${reason}</td></tr>`;
      })}
    </table>`;
}

async function canarySection(
  run: DescribedRun,
  looks: readonly CanaryLookRow[],
  alpha: number | null,
): Promise<Html> {
  const steps = list(run.live?.canary?.steps ?? (run.reports as Json)?.canary);
  if (steps.length === 0 && looks.length === 0) return html``;
  const errorRate: SeriesPoint[] = [];
  const latency: SeriesPoint[] = [];
  const sequential: SeriesPoint[] = [];
  for (const look of looks) {
    const at = look.at.toISOString();
    for (const [series, traffic] of [
      ['champion', look.champion],
      ['candidate', look.candidate],
    ] as const) {
      const t = traffic as Json;
      if (isNum(t?.requests) && t.requests > 0) errorRate.push({ at, series, value: t.errors / t.requests });
      if (isNum(t?.latencyMsP50)) latency.push({ at, series, value: t.latencyMsP50 });
    }
    // p-values start at 1 and only fall; a log scale shows the path down to α.
    if (isNum(look.errorRateP))
      sequential.push({ at, series: 'error rate', value: Math.max(look.errorRateP, 1e-6) });
    if (isNum(look.accuracyP))
      sequential.push({ at, series: 'accuracy', value: Math.max(look.accuracyP, 1e-6) });
  }
  const charts = await Promise.all([
    errorRate.length
      ? timeChart(errorRate, {
          title: 'Error rate per version (cumulative in each step)',
          yTitle: 'error rate',
          yFormat: '.1%',
        })
      : '',
    latency.length ? timeChart(latency, { title: 'Median latency per version', yTitle: 'ms' }) : '',
    sequential.length
      ? timeChart(sequential, {
          title: 'Sequential tests: always-valid p-values (fail below α)',
          yTitle: 'p-value',
          log: true,
          rule: alpha === null ? undefined : { value: alpha, label: `α ${alpha}` },
        })
      : '',
  ]);
  const perStep = new Map<number, CanaryLookRow[]>();
  for (const look of looks) perStep.set(look.weight, [...(perStep.get(look.weight) ?? []), look]);
  return html`<section id="canary">
    <h2>Canary</h2>
    <table>
      <tr><th>Traffic to candidate</th><th>Verdict</th><th>Requests (champion / candidate)</th><th>Looks</th><th>Why</th></tr>
      ${steps.map(
        (s) => html`<tr>
          <td class="num">${String(s?.weight)} %</td>
          <td>${badge(String(s?.verdict), String(s?.verdict))}</td>
          <td class="num">${String(s?.championRequests ?? 0)} / ${String(s?.candidateRequests ?? 0)}</td>
          <td class="num">${String(perStep.get(s?.weight)?.length ?? 0)}</td>
          <td><ul class="reasons">${list(s?.reasons).map((r) => html`<li>${String(r)}</li>`)}</ul></td>
        </tr>`,
      )}
    </table>
    <div class="grid">${charts.filter(Boolean).map((svg) => html`<div class="chart">${raw(svg)}</div>`)}</div>
    ${looks.length === 0 ? html`<p class="muted">No looks recorded yet.</p>` : ''}
  </section>`;
}

function decisionSection(d: DecisionPageData): Html {
  const { pending, run, session } = d;
  const votes = pending?.votes ?? list(run.live?.approval?.votes);
  const voteTable = votes.length
    ? html`<table>
        <tr><th>Who</th><th>Decision</th><th>Level</th><th>When</th><th>Reason</th></tr>
        ${votes.map(
          (v: Json) => html`<tr>
            <td>${String(v.by)} <span class="muted">(${String(v.role)})</span></td>
            <td>${badge(String(v.decision), String(v.decision))}</td>
            <td>${String(v.level)}</td>
            <td>${utc(v.at)}</td>
            <td>${v.reason ?? '—'}</td>
          </tr>`,
        )}
      </table>`
    : html`<p class="muted">No votes yet.</p>`;
  if (!pending) {
    return html`<section id="decision"><h2>Decision</h2>
      <p>This run is not waiting for a decision${run.outcome ? html` (it ended: ${run.outcome}${run.outcomeReason ? ` — ${run.outcomeReason}` : ''})` : ` (stage ${run.stage})`}.</p>
      ${voteTable}</section>`;
  }
  const who = [
    `${pending.needed ?? 1} approval${pending.needed === 1 ? '' : 's'} from role ${pending.role ?? 'approver'}`,
    pending.group ? `in group ${pending.group}` : '',
    pending.level === 'escalation' ? '(escalated)' : '',
  ]
    .filter(Boolean)
    .join(' ');
  const canDecide = pending.youMayDecide;
  return html`<section id="decision">
    <h2>Decision</h2>
    <p>
      Needs ${who}; one rejection rejects. Deadline <strong>${utc(pending.deadline)}</strong>
      (${relativeTime(pending.deadline)}).
    </p>
    ${voteTable}
    ${
      canDecide
        ? ''
        : html`<div class="banner bad" id="why-not" role="note">
            You may not decide this run: ${pending.whyNot ?? 'no approval round is open'}
          </div>`
    }
    <form class="decide" method="post" action="/ui/models/${run.model}/runs/${run.id}/decision">
      <input type="hidden" name="csrf" value="${session.csrf}" />
      <input type="hidden" name="evaluationReportHash" value="${pending.evaluationReportHash ?? ''}" />
      <label for="reason">Reason (kept with your decision)</label>
      <textarea id="reason" name="reason" maxlength="2000" ${canDecide ? '' : 'disabled'}></textarea>
      <div class="buttons">
        <button class="approve" type="submit" name="decision" value="approve" ${canDecide ? '' : 'disabled'}>Approve</button>
        <button class="reject" type="submit" name="decision" value="reject" ${canDecide ? '' : 'disabled'}>Reject</button>
      </div>
    </form>
  </section>`;
}

function auditSection(run: DescribedRun): Html {
  const events = list(run.audit).slice(-50);
  if (events.length === 0) return html``;
  return html`<section id="audit">
    <details>
      <summary>Audit trail (${events.length} latest events)</summary>
      <table>
        ${events.map(
          (e: Json) =>
            html`<tr><td>${utc(e.at)}</td><td class="mono">${String(e.kind)}</td><td>${String(e.actor ?? '')}</td><td>${e.reason ?? ''}</td></tr>`,
        )}
      </table>
    </details>
  </section>`;
}
