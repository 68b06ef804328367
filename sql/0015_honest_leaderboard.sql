-- An honest leaderboard (issue 14): floors computed from the data alone and a style control for
-- every score.

-- A third kind of method: the floors `baseline:copy-source`, `baseline:translation-memory` and
-- `baseline:constant`, computed from the data alone, no model.
alter table llm.translation_method drop constraint translation_method_kind_check;
alter table llm.translation_method add constraint translation_method_kind_check
    check (kind in ('base', 'fine_tuned', 'baseline'));

-- The translation-memory baseline outputs the reference of the most similar train source; this is
-- that similarity (rapidfuzz, 0-100), as a CAT tool shows its fuzzy-match percentage.
alter table llm.translation add column match_score double precision
    check (match_score >= 0 and match_score <= 100);
comment on column llm.translation.match_score is
    'baseline:translation-memory only: fuzzy-match score (0-100) of the train source whose reference was output';

-- The style control: the same outputs scored against references permuted by derangements
-- (control_seeds fixed seeds; mean and sample sd). meaning_margin = score - control_score
-- (control_score - score for TER, where lower is better). Against the execution's base method:
-- meaning_gain = this margin - the base's margin, with its own paired-bootstrap p-value;
-- p_value_holm is p_value after Holm's correction across the execution's comparisons.
-- flags: style-only, source-script, length-ratio (evaluation/flags.py says when).
alter table llm.evaluation
    add column control_score double precision,
    add column control_sd double precision,
    add column control_seeds integer check (control_seeds > 0),
    add column meaning_margin double precision,
    add column meaning_gain double precision,
    add column meaning_gain_p double precision check (meaning_gain_p >= 0 and meaning_gain_p <= 1),
    add column p_value_holm double precision check (p_value_holm >= 0 and p_value_holm <= 1),
    add column flags text[] not null default '{}';
