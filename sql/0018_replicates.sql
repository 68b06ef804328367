-- Replicates (a config's `replicates: N`): one partition trains N models of the same config on the
-- same rows, replicate k with training_args.seed + k - 1, so the leaderboard can show the spread a
-- seed alone causes. Every model registered before this is replicate 1, the config's own seed.
alter table llm.fine_tuned_models
    add column replicate smallint not null default 1,
    add column seed integer,
    add constraint fine_tuned_models_replicate_check check (replicate >= 1);

alter table llm.tuning_configs
    add column replicates smallint not null default 1,
    add constraint tuning_configs_replicates_check check (replicates >= 1);
