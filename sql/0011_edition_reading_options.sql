-- An edition version is identified by (name, file SHA-256, options SHA-256): the options are
-- everything editions.yaml says about reading and normalising the file, with defaults applied,
-- so fixing `columns`, `delimiter`, `source_language`, ... reloads an unchanged file as a new
-- version. The options hash is PostgreSQL's: SHA-256 of the jsonb's text, which is canonical
-- (key order and spacing are fixed by jsonb), computed by the loader with the same expression.

-- Versions loaded before this migration recorded the languages only in their own columns;
-- adding them to `options` gives those versions the key the loader now computes, so a re-run
-- with an unchanged editions.yaml still writes nothing.
alter table llm.dataset_editions add column options_sha256 text;
update llm.dataset_editions
   set options = options || jsonb_build_object('source_language', source_language,
                                               'target_language', target_language)
 where file_sha256 is not null;
update llm.dataset_editions
   set options_sha256 = encode(sha256(convert_to(options::text, 'UTF8')), 'hex')
 where file_sha256 is not null;
alter table llm.dataset_editions
    drop constraint dataset_editions_name_sha_key,
    add constraint dataset_editions_name_sha_options_key unique (name, file_sha256, options_sha256);

-- One file can now be loaded by several versions (one per set of options), each with its own
-- rejections: a rejected row belongs to its version, not to the file's bytes.
alter table llm.rejected_rows
    drop constraint rejected_rows_file_line_key,
    add constraint rejected_rows_edition_line_key unique (edition_id, line_number);

-- A version in which every row was rejected (its rejections stay in llm.rejected_rows) is
-- never the current one: the edition's newest version that holds rows is.
create or replace view llm.current_dataset_editions as
select distinct on (name) *
from llm.dataset_editions e
where exists (select 1 from llm.dataset d where d.edition_id = e.id)
order by name, version desc;
