CREATE TABLE "approval_decisions" (
	"id" serial PRIMARY KEY NOT NULL,
	"model" text NOT NULL,
	"run_id" text NOT NULL,
	"candidate_version" integer,
	"actor" text NOT NULL,
	"role" text,
	"decision" text NOT NULL,
	"reason" text,
	"via" text NOT NULL,
	"level" text,
	"evaluation_report_hash" text,
	"status" text NOT NULL,
	"refusal" text,
	"event_key" text,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "approval_decisions_run_idx" ON "approval_decisions" USING btree ("run_id","at");--> statement-breakpoint
CREATE UNIQUE INDEX "approval_decisions_event_key_uq" ON "approval_decisions" USING btree ("event_key");