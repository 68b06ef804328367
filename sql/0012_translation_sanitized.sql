-- Model output is untrusted input (mt_assets/translation/sanitize.py): a translation whose text had
-- characters removed or replaced before it was stored says what, so a score is never silently based
-- on text other than what the model generated.
alter table llm.translation add column sanitized text;
comment on column llm.translation.sanitized is
    'null: stored as generated; else what mt_assets.translation.sanitize changed, e.g. "removed U+0000 x1"';
