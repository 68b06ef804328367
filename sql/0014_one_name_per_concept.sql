-- One name per concept (README, "Concepts"): a fine-tuned model's base model and methodology carry
-- the names the seed gives them in llm.tuning_configs (llm_model, tuning_methodology), as the
-- config, the training job and its result do.
alter table llm.fine_tuned_models rename column base_model to llm_model;
alter table llm.fine_tuned_models rename column methodology to tuning_methodology;
