DROP INDEX "predictions_model_version_time_idx";--> statement-breakpoint
ALTER TABLE "prediction_stats" ALTER COLUMN "requests" SET DATA TYPE bigint;--> statement-breakpoint
ALTER TABLE "prediction_stats" ALTER COLUMN "errors" SET DATA TYPE bigint;--> statement-breakpoint
ALTER TABLE "prediction_stats" ALTER COLUMN "labelled" SET DATA TYPE bigint;--> statement-breakpoint
ALTER TABLE "prediction_stats" ALTER COLUMN "correct" SET DATA TYPE bigint;--> statement-breakpoint
CREATE INDEX "predictions_model_time_idx" ON "predictions" USING btree ("model","created_at");