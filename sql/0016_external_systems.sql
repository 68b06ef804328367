-- Scoring external systems (issue 14): a file $MT_CONFIG_DIR/systems/NAME.tsv|csv|jsonl holds
-- the outputs of a system we did not run (a commercial MT service, a human post-edit); it is the
-- translation method `system:NAME` (mt_assets.translation.systems).

alter table llm.translation_method drop constraint translation_method_kind_check;
alter table llm.translation_method add constraint translation_method_kind_check
    check (kind in ('base', 'fine_tuned', 'baseline', 'system'));

-- One row per system: the file last loaded for it. A changed file updates this row in place and
-- replaces its outputs; edition_ids are the current edition versions its references were
-- resolved against, so a new version of an edition resolves them again.
create table llm.system_file (
    id            serial primary key,
    name          text not null unique check (name ~ '^[a-z0-9][a-z0-9-]*$' and length(name) <= 63),
    source_file   text not null,
    file_sha256   text not null,
    format        text not null check (format in ('tsv', 'csv', 'jsonl')),
    edition_ids   integer[] not null default '{}',
    rows_read     integer not null check (rows_read >= 0),
    rows_loaded   integer not null check (rows_loaded >= 0),
    rows_rejected integer not null check (rows_rejected >= 0),
    loaded_at     timestamptz not null default now(),
    check (rows_read = rows_loaded + rows_rejected)
);
comment on table llm.system_file is
    'external systems: the file loaded as translation method system:NAME (mt_assets.translation.systems)';

-- Its outputs, one per dataset row; translated_text is already sanitized (sanitized says what
-- mt_assets.translation.sanitize changed, as llm.translation.sanitized does).
create table llm.system_output (
    id              bigserial primary key,
    system_file_id  integer not null references llm.system_file (id) on delete cascade,
    dataset_id      bigint not null references llm.dataset (id),
    line_number     integer not null check (line_number >= 1),
    translated_text text not null,
    sanitized       text,
    unique (system_file_id, dataset_id),
    unique (system_file_id, line_number)
);
create index system_output_dataset_idx on llm.system_output (dataset_id);

-- A system file's quarantined rows sit with the raw files' ones, tied to the system (an edition's
-- rows have edition_id, a system's system_file_id, never both).
alter table llm.rejected_rows
    add column system_file_id integer references llm.system_file (id) on delete cascade,
    add constraint rejected_rows_one_owner check (edition_id is null or system_file_id is null),
    add constraint rejected_rows_system_line_key unique (system_file_id, line_number);
