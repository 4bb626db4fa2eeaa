DROP INDEX "triggers_model_dedup_uq";--> statement-breakpoint
ALTER TABLE "triggers" ADD COLUMN "fate_reason" text;--> statement-breakpoint
CREATE INDEX "triggers_model_dedup_idx" ON "triggers" USING btree ("model","dedup_key");--> statement-breakpoint
CREATE INDEX "triggers_model_received_idx" ON "triggers" USING btree ("model","received_at");