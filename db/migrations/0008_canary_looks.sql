CREATE TABLE "canary_looks" (
	"id" serial PRIMARY KEY NOT NULL,
	"model" text NOT NULL,
	"run_id" uuid NOT NULL,
	"mode" text NOT NULL,
	"weight" integer NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"champion" jsonb NOT NULL,
	"candidate" jsonb NOT NULL,
	"error_rate_p" double precision,
	"accuracy_p" double precision,
	"verdict" text NOT NULL
);
--> statement-breakpoint
CREATE INDEX "canary_looks_run_idx" ON "canary_looks" USING btree ("run_id","id");