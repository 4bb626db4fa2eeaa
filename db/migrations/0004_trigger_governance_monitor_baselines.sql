CREATE TABLE "monitor_baselines" (
	"model" text PRIMARY KEY NOT NULL,
	"version" integer NOT NULL,
	"run_id" text,
	"reference_uri" text NOT NULL,
	"baseline" jsonb,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
DROP INDEX "triggers_model_dedup_uq";--> statement-breakpoint
ALTER TABLE "triggers" ADD COLUMN "fate_reason" text;--> statement-breakpoint
ALTER TABLE "monitor_baselines" ADD CONSTRAINT "monitor_baselines_model_models_name_fk" FOREIGN KEY ("model") REFERENCES "public"."models"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "triggers_model_dedup_idx" ON "triggers" USING btree ("model","dedup_key");--> statement-breakpoint
CREATE INDEX "triggers_model_received_idx" ON "triggers" USING btree ("model","received_at");