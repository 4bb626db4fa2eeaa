CREATE TABLE "alias_history" (
	"id" serial PRIMARY KEY NOT NULL,
	"model" text NOT NULL,
	"alias" text NOT NULL,
	"from_version" integer,
	"to_version" integer,
	"run_id" text,
	"actor" text NOT NULL,
	"reason" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "aliases" (
	"model" text NOT NULL,
	"alias" text NOT NULL,
	"version" integer NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "aliases_model_alias_pk" PRIMARY KEY("model","alias")
);
--> statement-breakpoint
CREATE TABLE "audit_events" (
	"id" serial PRIMARY KEY NOT NULL,
	"model" text NOT NULL,
	"run_id" text,
	"kind" text NOT NULL,
	"actor" text NOT NULL,
	"reason" text,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"event_key" text,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "model_versions" (
	"id" serial PRIMARY KEY NOT NULL,
	"model" text NOT NULL,
	"version" integer NOT NULL,
	"artifact_uri" text NOT NULL,
	"metrics" jsonb NOT NULL,
	"data_uri" text NOT NULL,
	"data_hash" text NOT NULL,
	"code_version" text NOT NULL,
	"params" jsonb NOT NULL,
	"run_id" text NOT NULL,
	"evaluation" jsonb,
	"fault_error_rate" double precision DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "models" (
	"name" text PRIMARY KEY NOT NULL,
	"policy" jsonb NOT NULL,
	"data_uri" text NOT NULL,
	"frozen" boolean DEFAULT false NOT NULL,
	"frozen_reason" text,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "predictions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"model" text NOT NULL,
	"version" integer NOT NULL,
	"role" text NOT NULL,
	"request_key" text,
	"prediction" double precision,
	"error" boolean DEFAULT false NOT NULL,
	"latency_ms" double precision NOT NULL,
	"label" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"labelled_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "routes" (
	"model" text PRIMARY KEY NOT NULL,
	"champion_version" integer,
	"candidate_version" integer,
	"candidate_weight" double precision DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "runs" (
	"id" text PRIMARY KEY NOT NULL,
	"model" text NOT NULL,
	"workflow_id" text NOT NULL,
	"causes" jsonb NOT NULL,
	"stage" text NOT NULL,
	"outcome" text,
	"outcome_reason" text,
	"data_uri" text,
	"reports" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"candidate_version" integer,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ended_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "triggers" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"model" text NOT NULL,
	"reason" text NOT NULL,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"dedup_key" text,
	"requested_by" text NOT NULL,
	"fate" text NOT NULL,
	"run_id" text,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "aliases" ADD CONSTRAINT "aliases_model_models_name_fk" FOREIGN KEY ("model") REFERENCES "public"."models"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "model_versions" ADD CONSTRAINT "model_versions_model_models_name_fk" FOREIGN KEY ("model") REFERENCES "public"."models"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "model_versions" ADD CONSTRAINT "model_versions_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "routes" ADD CONSTRAINT "routes_model_models_name_fk" FOREIGN KEY ("model") REFERENCES "public"."models"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "runs" ADD CONSTRAINT "runs_model_models_name_fk" FOREIGN KEY ("model") REFERENCES "public"."models"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "triggers" ADD CONSTRAINT "triggers_model_models_name_fk" FOREIGN KEY ("model") REFERENCES "public"."models"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "alias_history_model_idx" ON "alias_history" USING btree ("model","at");--> statement-breakpoint
CREATE INDEX "audit_events_model_idx" ON "audit_events" USING btree ("model","at");--> statement-breakpoint
CREATE UNIQUE INDEX "audit_events_event_key_uq" ON "audit_events" USING btree ("event_key");--> statement-breakpoint
CREATE UNIQUE INDEX "model_versions_model_version_uq" ON "model_versions" USING btree ("model","version");--> statement-breakpoint
CREATE UNIQUE INDEX "model_versions_run_uq" ON "model_versions" USING btree ("run_id");--> statement-breakpoint
CREATE INDEX "predictions_model_version_time_idx" ON "predictions" USING btree ("model","version","created_at");--> statement-breakpoint
CREATE INDEX "runs_model_started_idx" ON "runs" USING btree ("model","started_at");--> statement-breakpoint
CREATE UNIQUE INDEX "triggers_model_dedup_uq" ON "triggers" USING btree ("model","dedup_key");