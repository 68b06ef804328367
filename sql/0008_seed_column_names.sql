-- The seed diagram's column names, restored: SQL written against the seed's schema runs here.
alter table llm.dataset rename column enabled to is_enable;
alter table llm.tuning_dataset_distribution rename column dataset_id to dataset_record_id;
alter table llm.translation_method rename column fine_tuned_model_id to fine_tuned_models_id;
-- A view keeps the column names it was created with: current_dataset's `d.*` still says `enabled`.
alter view llm.current_dataset rename column enabled to is_enable;
