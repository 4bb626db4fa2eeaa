export { driftCheckWorkflow } from './drift-workflow';
export { modelWorkflow } from './model-workflow';
export { notifyWorkflow } from './notify-workflow';
export { runWorkflow } from './run-workflow';
