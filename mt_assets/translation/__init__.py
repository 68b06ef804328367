"""Translating test splits with each translation method: methods and executions in
PostgreSQL, a plain-data job, batched length-sorted generation. No Dagster here."""
