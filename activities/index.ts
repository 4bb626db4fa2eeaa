import { createApprovalActivities } from './approvals';
import { createCanaryActivities } from './canary';
import { createCanaryWatchActivities } from './canary-watch';
import { createDataWindowActivities } from './data-window';
import type { ActivityDeps } from './deps';
import { createDriftActivities } from './drift';
import { createEvaluationActivities } from './evaluation';
import { createInfraValidationActivities } from './infra-validation';
import { createMlflowImportActivities } from './mlflow-import';
import { createNotificationActivities } from './notifications';
import { createPromotionActivities } from './promotion';
import { createRegistryActivities } from './registry';
import { createRunWatchActivities } from './run-watch';
import { createRunActivities } from './runs';
import { createScheduleActivities } from './schedules';
import { createTrainingActivities } from './training';
import { createValidationActivities } from './validation';

export type { ActivityDeps } from './deps';

/** Every activity, built from its dependencies; workers register the whole object. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createRunActivities(deps),
    ...createRunWatchActivities(deps),
    ...createDataWindowActivities(deps),
    ...createValidationActivities(deps),
    ...createTrainingActivities(deps),
    ...createRegistryActivities(deps),
    ...createPromotionActivities(deps),
    ...createEvaluationActivities(deps),
    ...createInfraValidationActivities(deps),
    ...createMlflowImportActivities(deps),
    ...createCanaryActivities(deps),
    ...createCanaryWatchActivities(deps),
    ...createDriftActivities(deps),
    ...createApprovalActivities(deps),
    ...createNotificationActivities(deps),
    ...createScheduleActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
