-- COMET (a neural metric, unbabel-comet with a local checkpoint) may be stored next to the
-- sacrebleu metrics. It stays a closed list: a misspelled metric still cannot be stored.
alter table llm.evaluation
    drop constraint evaluation_metric_check,
    add constraint evaluation_metric_check check (metric in ('bleu', 'chrf++', 'ter', 'comet'));
