"""Training: a job spec in, an adapter (or full model) out. Runs with no Dagster and no database:
`python -m mt_assets.training JOB.json`."""
