"""Tuning configs (one YAML file = one row of llm.tuning_configs = one Dagster partition)
and their deterministic, leak-free train/validation/test splits.

- `config`: the pydantic model, YAML loading and validation (errors name file, line, field);
- `models`: what can be told about a model source without loading weights;
- `store`: upsert into llm.tuning_configs;
- `splits`: the pure split function;
- `distribution`: row selection, storage in llm.tuning_dataset_distribution, and the checks.
"""
