import { describe, expect, it } from 'vitest';
import {
  ROLLBACK_REASON_PREFIX_CHARS,
  ROLLBACK_REASONS,
  type RollbackReason,
  rollbackReasonLabel,
} from '../../observability/rollback-reason';

// Reasons as workflows/run-workflow.ts words them in the audit trail.
const events: [string, { kind: string; actor: string; reason: string | null }, RollbackReason][] = [
  [
    'a failed canary step',
    {
      kind: 'rollback',
      actor: 'ctloop',
      reason: 'canary fail at 10 %: fail: error rate 0.31 vs 0.01 (p = 0.0001); pass: latency',
    },
    'canary_failed',
  ],
  [
    'an inconclusive canary step',
    {
      kind: 'rollback',
      actor: 'ctloop',
      reason: 'canary inconclusive at 50 %: wait: accuracy (20 of 30 labelled)',
    },
    'canary_inconclusive',
  ],
  [
    'an inconclusive step a person rejected',
    {
      kind: 'rollback',
      actor: 'carol',
      reason: 'inconclusive canary at 10 % rejected by carol: not worth the risk',
    },
    'canary_inconclusive',
  ],
  [
    'an inconclusive step nobody decided',
    {
      kind: 'rollback',
      actor: 'ctloop',
      reason: 'inconclusive canary at 50 %: nobody decided by 2026-01-01T00:00:00Z, so it rolls back',
    },
    'canary_inconclusive',
  ],
  [
    'an operator aborting the rollout',
    { kind: 'rollback', actor: 'olga', reason: 'operator rollback during canary: aborted: abort by olga' },
    'operator',
  ],
  [
    'the regression check during the bake',
    { kind: 'rollback', actor: 'ctloop', reason: 'regression during bake: fail: error rate 0.2 vs 0.01' },
    'bake_regression',
  ],
  [
    'a promotion that failed and was undone',
    { kind: 'rollback', actor: 'ctloop', reason: 'promotion failed: connection reset' },
    'other',
  ],
  [
    'an operator during the canary',
    { kind: 'rollback', actor: 'olga', reason: 'operator rollback during canary: complaints from support' },
    'operator',
  ],
  [
    'an operator during the bake',
    { kind: 'rollback', actor: 'olga', reason: 'rollback during bake: conversion dropped' },
    'operator',
  ],
  [
    'ctloop itself during the bake (runs from before the regression check)',
    { kind: 'rollback', actor: 'ctloop', reason: 'rollback during bake: error rate regression' },
    'bake_regression',
  ],
  [
    'the clean-up after a run failed mid-canary',
    { kind: 'routing_restored', actor: 'ctloop', reason: 'run ended failed during canary' },
    'other',
  ],
  ['a reason nobody foresaw', { kind: 'rollback', actor: 'dana', reason: 'because' }, 'other'],
  ['no reason at all', { kind: 'rollback', actor: 'dana', reason: null }, 'other'],
  [
    'upper case and leading space',
    { kind: 'rollback', actor: 'ctloop', reason: '  Canary FAIL at 5 %' },
    'canary_failed',
  ],
];

describe('rollbackReasonLabel', () => {
  it.each(events)('%s → its label', (_name, event, label) => {
    expect(rollbackReasonLabel(event)).toBe(label);
  });

  it.each(events)('%s: the prefix the scrape groups by gives the same label', (_name, event, label) => {
    const prefix = (event.reason ?? '').slice(0, ROLLBACK_REASON_PREFIX_CHARS);
    expect(rollbackReasonLabel({ ...event, reason: prefix })).toBe(label);
  });

  it('never leaves the fixed label set, whatever the text', () => {
    const texts = [
      '',
      ' ',
      'x'.repeat(10_000),
      'canary',
      'rollback',
      'операция',
      '{"a":1}',
      'canary pass at 100 %',
    ];
    for (const reason of texts) {
      for (const kind of ['rollback', 'routing_restored', 'promotion']) {
        expect(ROLLBACK_REASONS).toContain(rollbackReasonLabel({ kind, actor: 'ctloop', reason }));
      }
    }
  });
});
