-- The seed schema: the nine tables of the original diagram, with its column names.
create schema if not exists llm;

create table llm.dataset_editions (
    id              serial primary key,
    name            text not null,
    description     text,
    link            text,
    source_language text
);

create table llm.dataset (
    id                 bigserial primary key,
    edition_id         integer not null references llm.dataset_editions (id),
    source_text        text not null,
    source_paragraph   integer,
    source_reference   text,
    official_translate text not null,
    source_language    text not null,
    enabled            boolean not null default true
);

create table llm.tuning_configs (
    id                       serial primary key,
    name                     text not null,
    description              text,
    llm_model                text not null,
    tuning_methodology       text not null,
    training_prompt_template text,
    llm_tuning_configs       jsonb not null default '{}'::jsonb
);

create table llm.tuning_dataset_distribution (
    id               bigserial primary key,
    tuning_config_id integer not null references llm.tuning_configs (id),
    dataset_id       bigint not null references llm.dataset (id)
);

create table llm.fine_tuned_models (
    id                       serial primary key,
    tuning_config_id         integer not null references llm.tuning_configs (id),
    pretrained_model_dir_path text,
    created_at               timestamptz not null default now()
);

create table llm.translation_method (
    id                  serial primary key,
    name                text not null,
    description         text,
    llm_model           text,
    fine_tuned_model_id integer references llm.fine_tuned_models (id)
);

create table llm.translation_execution (
    id          serial primary key,
    name        text not null,
    description text,
    created_at  timestamptz not null default now()
);

create table llm.translation_execution_models (
    id                       serial primary key,
    translation_execution_id integer not null references llm.translation_execution (id),
    translation_method_id    integer not null references llm.translation_method (id)
);

create table llm.translation (
    id                             bigserial primary key,
    translation_method_id          integer not null references llm.translation_method (id),
    tuning_dataset_distribution_id bigint not null references llm.tuning_dataset_distribution (id)
);
