import { html } from 'hono/html';
import type { PendingApproval } from './decision';
import { badge, type Html, num, relativeTime, utc } from './layout';

/** The approver's inbox: every run waiting for a person, oldest first, and whether this person may decide it. */
export function inboxBody(approvals: readonly PendingApproval[], who: string): Html {
  const mine = approvals.filter((a) => a.youMayDecide).length;
  return html`
    <h1>Approvals</h1>
    <p class="sub">
      ${
        approvals.length === 0
          ? 'Nothing waits for a decision.'
          : `${approvals.length} run${approvals.length === 1 ? '' : 's'} waiting; ${mine} ${mine === 1 ? 'is' : 'are'} yours to decide, ${who}.`
      }
    </p>
    ${
      approvals.length === 0
        ? ''
        : html`<section>
          <table id="inbox">
            <tr>
              <th>Model / run</th>
              <th>Asked</th>
              <th>Why it started</th>
              <th>Evaluation</th>
              <th>Deadline</th>
              <th>Votes</th>
              <th>You</th>
            </tr>
            ${approvals.map(row)}
          </table>
        </section>`
    }
  `;
}

function row(a: PendingApproval): Html {
  const causes = (Array.isArray(a.causes) ? a.causes : []) as { reason?: string; requestedBy?: string }[];
  const evaluation = a.evaluation as { decision?: string } | null;
  const cand = a.candidate as { accuracy?: number } | null;
  const champ = a.champion as { accuracy?: number } | null;
  const approvals = a.votes.filter((v) => v.decision === 'approve' && v.level === a.level).length;
  return html`<tr>
    <td>
      <a href="/ui/models/${a.model}/runs/${a.runId}"><strong>${a.model}</strong></a><br />
      <span class="mono muted">${a.runId.slice(0, 8)}</span>
    </td>
    <td>
      ${
        a.purpose === 'canary'
          ? html`${badge('canary question', 'warn')}`
          : html`promote v${a.candidateVersion ?? '?'}${a.championVersion ? ` over v${a.championVersion}` : ''}`
      }
    </td>
    <td>${causes.map((c) => html`<div>${c.reason ?? '?'} <span class="muted">by ${c.requestedBy ?? '?'}</span></div>`)}</td>
    <td>
      ${evaluation?.decision ? badge(evaluation.decision) : '—'}
      <div class="muted">accuracy ${num(cand?.accuracy, 3)} vs ${num(champ?.accuracy, 3)}</div>
    </td>
    <td>${relativeTime(a.deadline)}<br /><span class="muted">${utc(a.deadline)}</span></td>
    <td class="num">${approvals} / ${a.needed ?? 1}</td>
    <td>${a.youMayDecide ? badge('yours to decide', 'ok') : html`<span class="muted">${a.whyNot ?? 'not open'}</span>`}</td>
  </tr>`;
}
