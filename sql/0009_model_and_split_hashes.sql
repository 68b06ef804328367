-- What triggers what (mt_assets/tuning/config.py, HashPart): a config has three hashes.
--   config_sha256      the whole validated config; any edit changes it (kept as before).
--   model_sha256       all but llm_tuning_configs.generation: an edit here retrains.
--   generation_sha256  llm_tuning_configs.generation only: an edit here re-translates and re-scores.
-- Rows written before this migration get theirs on the next `tuning_configs` run.
alter table llm.tuning_configs
    add column model_sha256      text,
    add column generation_sha256 text;

-- A model is bound to the settings and the exact rows it was trained on. A model registered
-- before this migration has neither: it is not reused, translations refuse it and the
-- leaderboard hides its scores until fine_tuned_model trains it again.
alter table llm.fine_tuned_models
    add column model_sha256 text,
    add column split_sha256 text;

-- The hash of a config's stored train and validation rows, as (dataset_record_id, split) pairs,
-- i.e. what a model trained from the config now would learn from. Null when it has none. The
-- test rows are left out: new rows that all land in test do not unbind a model, while a row
-- moving between test and train or validation does.
create function llm.split_sha256(config_id integer) returns text
language sql stable as $$
    select encode(sha256(convert_to(
               string_agg(dataset_record_id::text || E'\t' || split, E'\n' order by dataset_record_id),
               'UTF8')), 'hex')
      from llm.tuning_dataset_distribution
     where tuning_config_id = config_id and split in ('train', 'validation')
$$;
comment on function llm.split_sha256(integer) is
    'sha256 of the config''s train/validation (dataset_record_id, split) pairs; compared with fine_tuned_models.split_sha256';
