-- What each model was trained on, so its run can be reproduced (mt_assets/training/environment.py):
-- the seeds, torch's thread counts, the host's CPU and GPU, and the environment variables that
-- change numerics. The library versions stay in library_versions.
alter table llm.fine_tuned_models
    add column environment jsonb not null default '{}'::jsonb;
