CREATE TABLE "drift_reports" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"model" text NOT NULL,
	"source" text NOT NULL,
	"status" text NOT NULL,
	"current_uri" text,
	"reference_uri" text,
	"report" jsonb,
	"drifted" boolean,
	"error" text,
	"trigger_id" uuid,
	"run_id" text,
	"requested_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "drift_reports" ADD CONSTRAINT "drift_reports_model_models_name_fk" FOREIGN KEY ("model") REFERENCES "public"."models"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "drift_reports_model_idx" ON "drift_reports" USING btree ("model","created_at");