import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalDecisions } from '../../db/schema';
import {
  decide,
  fastPolicy,
  hasEnded,
  inStage,
  registerModel,
  trigger,
  waitForRun,
  writeDataset,
} from '../../scripts/lib/scenario';
import { approveSignal, runWorkflowId } from '../../workflows/messages';
import { recordRunHistory } from '../helpers/histories';
import { type Stack, startStack } from '../helpers/stack';

/** A webhook receiver that records what it gets and can refuse the first delivery of an event. */
interface Received {
  event: string;
  delivery: string;
  signature: string | undefined;
  body: string;
  at: number;
}

function startReceiver(failFirst: Set<string>) {
  const received: Received[] = [];
  const refused: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const event = String(req.headers['x-ctloop-event']);
      const delivery = String(req.headers['x-ctloop-delivery']);
      if (failFirst.delete(event)) {
        refused.push(delivery);
        res.writeHead(503).end();
        return;
      }
      received.push({
        event,
        delivery,
        signature: req.headers['x-ctloop-signature'] as string | undefined,
        body,
        at: Date.now(),
      });
      res.writeHead(204).end();
    });
  });
  return { server, received, refused };
}

const SECRET = 'webhook-secret-for-tests';

describe('approvals: identities, roles, four-eyes, levels, reminders, escalation, audit', () => {
  let stack: Stack;
  let data: string;
  const receiver = startReceiver(new Set(['approval.requested']));

  beforeAll(async () => {
    await new Promise<void>((r) => receiver.server.listen(0, '127.0.0.1', r));
    const { port } = receiver.server.address() as AddressInfo;
    stack = await startStack({ webhooks: [`http://127.0.0.1:${port}/hooks`], webhookSecret: SECRET });
    data = await writeDataset(stack.dataDir, 'approvals', { rows: 1200, seed: 31 });
  });
  afterAll(async () => {
    await stack?.close();
    receiver.server.close();
  });

  it('answers 401 without a valid token and 403 when the role may not make the call', async () => {
    const anonymous = await httpLikeCall(stack, undefined, 'GET', '/v1/models');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toMatchObject({ error: { code: 'unauthenticated' } });
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const forged = await httpLikeCall(stack, 'ctl_not-a-real-token', 'GET', '/v1/models');
    expect(forged.status).toBe(401);

    await registerModel(stack.api(), 'roles', data, fastPolicy());
    const viewer = stack.api('vera');
    expect((await viewer('GET', '/v1/models/roles')).status).toBe(200);
    const viewerTrigger = await viewer('POST', '/v1/models/roles/triggers', { reason: 'manual' });
    expect(viewerTrigger.status).toBe(403);
    expect(viewerTrigger.body.error).toMatchObject({
      code: 'forbidden',
      details: { role: 'viewer', required: 'trigger' },
    });
    const monitorApproves = await stack.api('monitor')('POST', '/v1/models/roles/runs/r1/approve', {});
    expect(monitorApproves.status).toBe(403);
    const approverRegisters = await stack.api('alice')('POST', '/v1/models', {
      name: 'not-allowed',
      dataUri: data,
      policy: fastPolicy(),
    });
    expect(approverRegisters.status).toBe(403);
    const approverRollsBack = await stack.api('alice')('POST', '/v1/models/roles/rollback', { reason: 'x' });
    expect(approverRollsBack.status).toBe(403);
    // Health and the API description stay open for probes and tooling.
    expect((await httpLikeCall(stack, undefined, 'GET', '/healthz')).status).toBe(200);
    expect((await httpLikeCall(stack, undefined, 'GET', '/openapi.json')).status).toBe(200);
  });

  it('waits for two distinct approvers, refuses four-eyes, duplicate and stale decisions, and records them all', async () => {
    const model = 'two-approvers';
    await registerModel(stack.api('admin'), model, data, fastPolicy({ approval: { approvers: 2 } }));
    const { runId } = await trigger(stack.api('dana'), model, { reason: 'manual' });
    await waitForRun(stack.api(), model, runId, inStage('approve'));

    const inbox = (await stack.api('alice')('GET', '/v1/approvals')).body.approvals;
    const entry = inbox.find((a: { runId: string }) => a.runId === runId);
    expect(entry).toMatchObject({ model, needed: 2, level: 'primary', youMayDecide: true, votes: [] });
    expect(entry.evaluationReportHash).toMatch(/^[0-9a-f]{64}$/);
    const danaInbox = (await stack.api('dana')('GET', '/v1/approvals')).body.approvals;
    expect(danaInbox.find((a: { runId: string }) => a.runId === runId)).toMatchObject({
      youMayDecide: false,
      whyNot: expect.stringMatching(/four-eyes: dana triggered this run/),
    });

    const byTriggerer = await decide(stack.api('dana'), model, runId, 'approve');
    expect(byTriggerer.status).toBe(403);
    expect(byTriggerer.body).toMatchObject({ error: { code: 'four_eyes' } });
    const byRegistrar = await decide(stack.api('admin'), model, runId, 'approve');
    expect(byRegistrar.status).toBe(403);
    expect(byRegistrar.body).toMatchObject({
      error: { message: expect.stringMatching(/registered this model/) },
    });
    const stale = await stack.api('bob')('POST', `/v1/models/${model}/runs/${runId}/approve`, {
      evaluationReportHash: '0'.repeat(64),
    });
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({ error: { code: 'stale_report' } });

    const first = await stack.api('alice')('POST', `/v1/models/${model}/runs/${runId}/approve`, {
      reason: 'metrics hold up',
      evaluationReportHash: entry.evaluationReportHash,
    });
    expect(first.status).toBe(200);
    expect(first.body.approval.votes).toEqual([
      expect.objectContaining({ by: 'alice', decision: 'approve', via: 'api' }),
    ]);
    const again = await decide(stack.api('alice'), model, runId, 'approve', 'me again');
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: { code: 'duplicate' } });
    // One approval of two: the run still waits.
    expect((await waitForRun(stack.api(), model, runId, () => true)).stage).toBe('approve');

    expect((await decide(stack.api('bob'), model, runId, 'approve', 'agreed')).status).toBe(200);
    const run = await waitForRun(stack.api(), model, runId, hasEnded);
    expect(run.outcome).toBe('promoted');

    const rows = await stack.database.db
      .select()
      .from(approvalDecisions)
      .where(eq(approvalDecisions.runId, runId));
    const summary = rows.map((r) => [r.actor, r.status, r.via]).sort();
    expect(summary).toEqual(
      [
        ['admin', 'refused', 'api'],
        ['alice', 'accepted', 'api'],
        ['alice', 'refused', 'api'],
        ['bob', 'accepted', 'api'],
        ['bob', 'refused', 'api'],
        ['dana', 'refused', 'api'],
      ].sort(),
    );
    const accepted = rows.filter((r) => r.status === 'accepted');
    expect(new Set(accepted.map((r) => r.evaluationReportHash))).toEqual(
      new Set([entry.evaluationReportHash]),
    );

    // The lineage answers "why is this version in production?" in one call.
    const lineage = (await stack.api('vera')('GET', `/v1/models/${model}/versions/1/lineage`)).body;
    expect(lineage.causes.triggers).toEqual([
      expect.objectContaining({ reason: 'manual', requestedBy: 'dana', runId }),
    ]);
    expect(lineage.data.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(lineage.code.version).toBe('test');
    expect(lineage.params).toMatchObject({ trainer: 'builtin-logreg' });
    expect(lineage.training.checkpoints.length).toBeGreaterThan(0);
    expect(lineage.evaluation.hash).toBe(entry.evaluationReportHash);
    expect(lineage.approvals.decisions.filter((d: { status: string }) => d.status === 'accepted')).toEqual([
      expect.objectContaining({ actor: 'alice', reason: 'metrics hold up' }),
      expect.objectContaining({ actor: 'bob', reason: 'agreed' }),
    ]);
    expect(lineage.approvals.outcome).toMatchObject({ kind: 'approval', actor: 'bob' });
    expect(lineage.rollout.aliasChanges).toEqual([
      expect.objectContaining({ fromVersion: null, toVersion: 1 }),
    ]);
    expect(lineage.rollout.events).toEqual([expect.objectContaining({ kind: 'promotion' })]);
  });

  it('applies and audits a decision signalled the way the Temporal UI sends it, under the same rules', async () => {
    const model = 'signal-votes';
    await registerModel(stack.api(), model, data, fastPolicy({ approval: { approvers: 2 } }));
    const { runId } = await trigger(stack.api('olga'), model, { reason: 'manual' });
    await waitForRun(stack.api(), model, runId, inStage('approve'));
    const handle = stack.client.workflow.getHandle(runWorkflowId(model, runId));
    // The UI's "Send a Signal" form: name `approve`, JSON input.
    await handle.signal(approveSignal, { by: 'olga', reason: 'I triggered it myself' });
    await handle.signal(approveSignal, { by: 'carol', reason: 'looked at the slices' });
    await handle.signal(approveSignal, { by: 'carol', reason: 'twice' });
    await handle.signal(approveSignal, { by: 'alice', reason: 'fine by me' });
    const run = await waitForRun(stack.api(), model, runId, hasEnded);
    expect(run.outcome).toBe('promoted');
    const votes = run.audit
      .filter((e: { kind: string }) => e.kind.startsWith('vote_'))
      .map((e: { kind: string; actor: string; reason: string | null }) => [e.kind, e.actor, e.reason]);
    expect(votes).toEqual(
      expect.arrayContaining([
        ['vote_refused', 'olga', expect.stringMatching(/role operator/)],
        ['vote_approve', 'carol', 'looked at the slices'],
        ['vote_refused', 'carol', expect.stringMatching(/already decided/)],
        ['vote_approve', 'alice', 'fine by me'],
      ]),
    );
    expect(votes).toHaveLength(4);
  });

  it('takes no identity from a message: a made-up approver sent as an update is refused and audited', async () => {
    const model = 'forged-identity';
    await registerModel(stack.api(), model, data, fastPolicy());
    const { runId } = await trigger(stack.api('olga'), model, { reason: 'manual' });
    await waitForRun(stack.api(), model, runId, inStage('approve'));
    const handle = stack.client.workflow.getHandle(runWorkflowId(model, runId));
    // What `temporal workflow update execute --name decide` sends, bypassing the API and its tokens.
    const forged = {
      decision: 'approve',
      by: 'mallory',
      approver: { name: 'mallory', role: 'admin', groups: ['ml-reviewers'] },
    };
    // The update fails with the run's reason (the client error's cause).
    const refusal = (sent: Promise<unknown>) =>
      sent.then(
        () => 'accepted',
        (err: { cause?: { message?: string }; message?: string }) => err.cause?.message ?? err.message,
      );
    expect(await refusal(handle.executeUpdate('decide', { args: [forged] }))).toBe(
      'mallory is not a known identity',
    );
    // A known name with a forged role gains nothing either: the run looks the role up.
    expect(
      await refusal(
        handle.executeUpdate('decide', {
          args: [{ decision: 'approve', by: 'vera', approver: { name: 'vera', role: 'admin', groups: [] } }],
        }),
      ),
    ).toMatch(/vera has role viewer/);
    const waiting = await waitForRun(stack.api(), model, runId, () => true);
    expect(waiting.outcome).toBeNull();
    expect(waiting.live.approval.votes).toEqual([]);
    const refused = waiting.audit
      .filter((e: { kind: string }) => e.kind === 'vote_refused')
      .map((e: { actor: string; reason: string | null }) => [e.actor, e.reason]);
    expect(refused).toEqual([
      ['mallory', 'mallory is not a known identity'],
      ['vera', expect.stringMatching(/vera has role viewer/)],
    ]);
    // The real approver, through the API, still decides.
    expect((await decide(stack.api('alice'), model, runId, 'approve')).status).toBe(200);
    expect((await waitForRun(stack.api(), model, runId, hasEnded)).outcome).toBe('promoted');
  });

  it('sends a reminder before the deadline, escalates on expiry to the second group, and notifies the decision', async () => {
    const model = 'escalation';
    await registerModel(
      stack.api(),
      model,
      data,
      fastPolicy({
        approval: {
          timeoutSeconds: 5,
          reminderBeforeSeconds: 3,
          onExpiry: 'escalate',
          escalation: { group: 'ml-leads', timeoutSeconds: 60 },
        },
      }),
    );
    const { runId } = await trigger(stack.api('monitor'), model, { reason: 'drift' });
    const waiting = await waitForRun(stack.api(), model, runId, inStage('approve'));
    const firstDeadline = Date.parse(waiting.live.approval.deadline ?? '');

    const escalated = await waitForRun(
      stack.api(),
      model,
      runId,
      (r) => r.live?.approval?.level === 'escalation',
      { timeoutMs: 30_000 },
    );
    expect(escalated.live.approval).toMatchObject({ group: 'ml-leads', needed: 1 });
    // alice is an approver, but not in ml-leads, which decides now.
    const notLead = await decide(stack.api('alice'), model, runId, 'approve');
    expect(notLead.status).toBe(403);
    expect(notLead.body).toMatchObject({
      error: { message: expect.stringMatching(/not in group ml-leads/) },
    });
    expect((await decide(stack.api('carol'), model, runId, 'approve', 'lead sign-off')).status).toBe(200);
    expect((await waitForRun(stack.api(), model, runId, hasEnded)).outcome).toBe('promoted');
    await recordRunHistory(stack, 'run-approval-escalated', runWorkflowId(model, runId));

    const mine = () =>
      receiver.received.filter((r) => (JSON.parse(r.body) as { runId: string }).runId === runId);
    await expect
      .poll(() => mine().map((r) => r.event), { timeout: 20_000 })
      .toEqual(expect.arrayContaining(['approval.reminder', 'approval.escalated', 'approval.decided']));
    const reminder = mine().find((r) => r.event === 'approval.reminder')!;
    expect(reminder.at).toBeLessThan(firstDeadline);
    expect(mine().some((r) => r.event === 'approval.requested')).toBe(true);
    // The receiver refused the very first delivery (of the earlier run's "requested") with a 503;
    // Temporal retried it with the same delivery id, and it got through without holding that run up.
    expect(receiver.refused).toHaveLength(1);
    await expect
      .poll(() => receiver.received.some((r) => r.delivery === receiver.refused[0]), { timeout: 20_000 })
      .toBe(true);
    for (const r of mine()) {
      expect(r.signature).toBe(`sha256=${createHmac('sha256', SECRET).update(r.body).digest('hex')}`);
    }
    const decided = JSON.parse(mine().find((r) => r.event === 'approval.decided')!.body);
    expect(decided).toMatchObject({
      event: 'approval.decided',
      model,
      runId,
      data: { approval: { decision: 'approve', by: 'carol', level: 'escalation' } },
    });
  });
});

/** A raw request with an optional token, keeping the response headers. */
async function httpLikeCall(stack: Stack, token: string | undefined, method: string, path: string) {
  const res = await stack.app.request(path, {
    method,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  // biome-ignore lint/suspicious/noExplicitAny: assertions read documented JSON shapes
  return { status: res.status, headers: res.headers, body: body as any };
}
