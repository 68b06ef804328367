-- A config's library check (mt_assets/tuning/libraries.py: training_args, lora_config and generation
-- against the installed transformers and peft classes) imports transformers, peft and torch: about
-- 10 s in every fresh process. `tuning_configs` records here what a registered config passed it
-- against: {"transformers": "5.0.0", "peft": ..., "accelerate": ..., "torch": ..., "mt_assets.checks": ...}
-- (package versions, and a fingerprint of the check's own code). Reading the row
-- (mt_assets/tuning/store.py) always validates its structure, and runs the library check again only
-- when this is null (a row inserted with SQL), config_sha256 does not match the row's content, or
-- the installed versions differ from the recorded ones.
alter table llm.tuning_configs add column libraries_checked jsonb;
comment on column llm.tuning_configs.libraries_checked is
    'what the config passed the library check against (package versions); null: checked on every read';
