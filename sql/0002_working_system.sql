-- What the seed misses for a working system: provenance, quarantine, splits, model
-- registry, training logs, resumable translations and scores.

-- Editions: one row per loaded file version; a changed file becomes a new version and
-- never rewrites rows that splits, translations or scores already reference.
alter table llm.dataset_editions
    add column version          integer not null default 1,
    add column target_language  text not null default 'en',
    add column source_file      text,
    add column file_sha256      text,
    add column options          jsonb not null default '{}'::jsonb,
    add column rows_read        integer,
    add column rows_loaded      integer,
    add column rows_rejected    integer,
    add column loaded_at        timestamptz not null default now(),
    add constraint dataset_editions_name_version_key unique (name, version),
    add constraint dataset_editions_name_sha_key unique (name, file_sha256),
    add constraint dataset_editions_version_check check (version >= 1);

alter table llm.dataset
    add column target_language text not null default 'en',
    add column created_at      timestamptz not null default now(),
    add constraint dataset_edition_reference_key unique (edition_id, source_reference);
create index dataset_language_idx on llm.dataset (source_language);

create table llm.rejected_rows (
    id          bigserial primary key,
    edition_id  integer references llm.dataset_editions (id),
    source_file text not null,
    file_sha256 text not null,
    line_number integer,
    raw_content text,
    reason      text not null,
    rejected_at timestamptz not null default now(),
    constraint rejected_rows_file_line_key unique (file_sha256, line_number)
);

alter table llm.tuning_configs
    add column config_sha256 text,
    add column data          jsonb not null default '{}'::jsonb,
    add column source_file   text,
    add column created_at    timestamptz not null default now(),
    add column updated_at    timestamptz not null default now(),
    add constraint tuning_configs_name_key unique (name),
    add constraint tuning_configs_name_check check (name ~ '^[a-z0-9][a-z0-9-]*$'),
    add constraint tuning_configs_methodology_check check (tuning_methodology in ('lora', 'qlora', 'full'));

alter table llm.tuning_dataset_distribution
    add column split         text not null default 'train',
    add column config_sha256 text,
    add column created_at    timestamptz not null default now(),
    add constraint tuning_dataset_distribution_split_check check (split in ('train', 'validation', 'test')),
    add constraint tuning_dataset_distribution_config_row_key unique (tuning_config_id, dataset_id);
create index tuning_dataset_distribution_dataset_idx on llm.tuning_dataset_distribution (dataset_id);

alter table llm.fine_tuned_models
    add column status           text not null default 'running',
    add column config_sha256    text,
    add column base_model       text,
    add column methodology      text,
    add column artefact_sha256  text,
    add column metrics          jsonb not null default '{}'::jsonb,
    add column library_versions jsonb not null default '{}'::jsonb,
    add column dagster_run_id   text,
    add column started_at       timestamptz not null default now(),
    add column finished_at      timestamptz,
    add column duration_seconds double precision,
    add column error            text,
    add constraint fine_tuned_models_status_check check (status in ('running', 'succeeded', 'failed'));
create index fine_tuned_models_config_idx on llm.fine_tuned_models (tuning_config_id, status);

create table llm.training_logs (
    id                  bigserial primary key,
    fine_tuned_model_id integer not null references llm.fine_tuned_models (id),
    step                integer not null,
    epoch               double precision,
    logs                jsonb not null,
    created_at          timestamptz not null default now()
);
create index training_logs_model_step_idx on llm.training_logs (fine_tuned_model_id, step);

alter table llm.translation_method
    add column tuning_config_id  integer references llm.tuning_configs (id),
    add column kind              text not null default 'base',
    add column generation_config jsonb not null default '{}'::jsonb,
    add column created_at        timestamptz not null default now(),
    add constraint translation_method_name_key unique (name),
    add constraint translation_method_kind_check check (kind in ('base', 'fine_tuned'));

alter table llm.translation_execution
    add column tuning_config_id integer references llm.tuning_configs (id),
    add constraint translation_execution_name_key unique (name);

alter table llm.translation_execution_models
    add constraint translation_execution_models_key unique (translation_execution_id, translation_method_id);

alter table llm.translation
    add column translation_execution_id integer references llm.translation_execution (id),
    add column translated_text          text not null,
    add column latency_ms               double precision,
    add column created_at               timestamptz not null default now(),
    add constraint translation_method_row_key unique (translation_method_id, tuning_dataset_distribution_id);
create index translation_distribution_idx on llm.translation (tuning_dataset_distribution_id);

create table llm.evaluation (
    id                       bigserial primary key,
    translation_method_id    integer not null references llm.translation_method (id),
    translation_execution_id integer not null references llm.translation_execution (id),
    scope                    text not null,
    scope_value              text not null default '',
    metric                   text not null,
    score                    double precision not null,
    signature                text not null,
    segments                 integer not null,
    p_value                  double precision,
    created_at               timestamptz not null default now(),
    constraint evaluation_scope_check check (scope in ('all', 'language', 'edition')),
    constraint evaluation_metric_check check (metric in ('bleu', 'chrf++', 'ter')),
    constraint evaluation_segments_check check (segments > 0),
    constraint evaluation_key unique (translation_method_id, translation_execution_id, scope, scope_value, metric)
);
