-- The precision a method's stored translations were computed in, as the translating host resolved
-- llm_tuning_configs.precision (mt_assets.models.precision): `auto` resolves per host, so a method
-- translated in part on a CPU (fp32) and resumed on a GPU (bf16) would mix two systems. A run that
-- resolves another precision than this redoes the earlier rows (translation/run.py). Null until a
-- model translated for the method.
alter table llm.translation_method
    add column precision text check (precision in ('fp32', 'bf16', 'fp16'));
