CREATE TABLE "prediction_stats" (
	"model" text NOT NULL,
	"version" integer NOT NULL,
	"route_since" timestamp with time zone NOT NULL,
	"requests" integer DEFAULT 0 NOT NULL,
	"errors" integer DEFAULT 0 NOT NULL,
	"labelled" integer DEFAULT 0 NOT NULL,
	"correct" integer DEFAULT 0 NOT NULL,
	"latencies_ms" double precision[] DEFAULT '{}' NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "prediction_stats_model_version_route_since_pk" PRIMARY KEY("model","version","route_since")
);
--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "route_since" timestamp with time zone;