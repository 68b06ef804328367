-- METEOR (nltk's, with Debian's WordNet 3.0; mt_assets.evaluation.meteor) is stored next to the
-- sacrebleu metrics, over the whole test set only. Still a closed list: a misspelled metric
-- cannot be stored.
alter table llm.evaluation
    drop constraint evaluation_metric_check,
    add constraint evaluation_metric_check check (metric in ('bleu', 'chrf++', 'ter', 'comet', 'meteor'));
