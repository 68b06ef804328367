-- Sentence-level chrF++ of each translation, written by the evaluation step so the worst
-- segments can be listed with one ordered query.
-- A nullable column rather than a table of its own: there is exactly one such score per
-- translation, null until evaluated; its sacrebleu signature is the chrF++ signature stored
-- in llm.evaluation for the same method and execution (same CHRF(word_order=2), same
-- version), so repeating it on every row would add nothing. Spelled out as chrf_plus_plus
-- because plain chrF (no word n-grams) is a different number.
alter table llm.translation
    add column chrf_plus_plus double precision,
    add constraint translation_chrf_plus_plus_check check (chrf_plus_plus >= 0 and chrf_plus_plus <= 100);

comment on column llm.translation.chrf_plus_plus is
    'sentence-level chrF++ (sacrebleu CHRF(word_order=2).sentence_score) against the reference, 0-100';
