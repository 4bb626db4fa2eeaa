export { driftCheckWorkflow } from './drift-workflow';
export { modelWorkflow } from './model-workflow';
export { runWorkflow } from './run-workflow';
