CREATE TABLE "production_metrics" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"model" text NOT NULL,
	"version" integer,
	"metric" text NOT NULL,
	"value" double precision NOT NULL,
	"coverage" double precision,
	"samples" integer,
	"observed_at" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"source" text NOT NULL
);
--> statement-breakpoint
ALTER TABLE "production_metrics" ADD CONSTRAINT "production_metrics_model_models_name_fk" FOREIGN KEY ("model") REFERENCES "public"."models"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "production_metrics_model_metric_time_idx" ON "production_metrics" USING btree ("model","metric","observed_at");