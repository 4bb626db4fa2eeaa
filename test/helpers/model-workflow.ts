import type { ModelWorkflowInput } from '../../workflows/messages';
import { modelWorkflowId } from '../../workflows/messages';
import type { Stack } from './stack';

/** The limits that make a model's workflow continue as new; tests make them tiny. */
export type ContinueAsNewLimits = Pick<
  ModelWorkflowInput,
  'maxHistoryEvents' | 'maxUpdatesPerExecution' | 'maxRunsPerExecution'
>;

/**
 * Starts a model's workflow as the API would (its id, the stack's queues),
 * but with `limits`, so that a test sees it continue as new within a few
 * triggers or runs.
 */
export function startModelWorkflow(stack: Stack, model: string, limits: ContinueAsNewLimits) {
  return stack.client.workflow.start('modelWorkflow', {
    workflowId: modelWorkflowId(model),
    taskQueue: stack.taskQueues.control,
    args: [{ model, trainTaskQueue: stack.taskQueues.train, ...limits }],
  });
}
