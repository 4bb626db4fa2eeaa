export { driftCheckWorkflow } from './drift-workflow';
export { modelWorkflow } from './model-workflow';
export { notifyWorkflow } from './notify-workflow';
export { runWorkflow } from './run-workflow';
export { scheduledTriggerWorkflow } from './scheduled-trigger-workflow';
