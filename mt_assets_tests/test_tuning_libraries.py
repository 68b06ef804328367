"""llm_tuning_configs checked against the installed transformers/peft, and the training host's
decision on precision it cannot honour: each mistake one line naming file, line and field."""

import pytest

from mt_assets.models.precision import HostInfo
from mt_assets.training.arguments import HostError, adapt_to_host
from mt_assets.tuning.config import load_config_file
from mt_assets_tests.test_tuning_config import GOOD, SEQ2SEQ, _shown, _write

# SEQ2SEQ with a training_args block to edit.
SEQ2SEQ_ARGS = SEQ2SEQ.replace("  lora_config:", "  training_args: {max_steps: 10}\n  lora_config:")


@pytest.mark.parametrize(
    ("base", "old", "new", "field", "reason"),
    [
        # the shipped NLLB configs' break: transformers 5 removed warmup_ratio
        (SEQ2SEQ_ARGS, "max_steps: 10", "warmup_ratio: 0.03", "training_args.warmup_ratio",
         "replaced by 'warmup_steps'"),
        (GOOD, "max_steps: 10", "max_steps: 10, evaluation_strategy: steps", "training_args.evaluation_strategy",
         "replaced by 'eval_strategy'"),
        (GOOD, "max_steps: 10", "max_steps: 10, learnig_rate: 1", "training_args.learnig_rate",
         "did you mean 'learning_rate'"),
        # PyYAML reads 2e-4 (no dot) as a string, which TrainingArguments would keep
        (GOOD, "learning_rate: 2.0e-4", "learning_rate: 2e-4", "training_args.learning_rate",
         "valid number (got '2e-4'"),
        (GOOD, "max_steps: 10", "max_steps: 10.5", "training_args.max_steps", "valid integer"),
        (GOOD, "max_steps: 10", "max_steps: 10, output_dir: /tmp/x", "training_args.output_dir",
         "set by mt-assets itself"),
        (GOOD, "max_steps: 10", "max_steps: 10, predict_with_generate: false",
         "training_args.predict_with_generate", "a Seq2SeqTrainingArguments key"),
        (GOOD, "max_steps: 10", "max_steps: 10, max_length: 256.0", "training_args.max_length", "must be int"),
        (GOOD, "max_steps: 10", "max_steps: 10, eval_strategy: sometimes", "training_args",
         "TrainingArguments refuses these settings: sometimes is not a valid IntervalStrategy"),
        # the refusal names our default save_steps, which the config never set
        (GOOD, "max_steps: 10", "max_steps: 10, load_best_model_at_end: true, eval_steps: 30", "training_args",
         "'save_steps': 50"),
        (GOOD, "{r: 8,", "{r: 8, lora_alpa: 16,", "lora_config.lora_alpa", "did you mean 'lora_alpha'"),
        (GOOD, "{r: 8,", "{r: eight,", "lora_config.r", "valid integer"),
        (GOOD, "{r: 8,", "{r: 8, task_type: CAUSAL_LM,", "lora_config.task_type", "set by mt-assets"),
        (GOOD, "{r: 8,", "{r: 8, layers_pattern: layers,", "lora_config", "LoraConfig refuses these settings"),
        (GOOD, "  lora_config:", "  generation: {repetition_penalty: 1.2}\n  lora_config:",
         "generation.repetition_penalty", "GenerationConfig setting that mt-assets does not pass"),
    ],
)
def test_each_library_mistake_names_the_field(tmp_path, base, old, new, field, reason):
    assert old in base
    result = load_config_file(_write(tmp_path, base.replace(old, new)))
    assert result.config is None
    matching = [e for e in result.errors if f": llm_tuning_configs.{field}: " in e]
    assert matching, result.errors
    assert reason in matching[0], matching[0]
    assert matching[0].startswith(_shown(tmp_path) + ":"), matching[0]
    assert matching[0].split(":")[1].isdigit(), matching[0]  # the line


def test_host_settings_validate_on_a_host_that_cannot_honour_them(tmp_path):
    """A CPU laptop validates a GPU config: precision and distributed keys are the training host's call."""
    text = SEQ2SEQ_ARGS.replace(
        "max_steps: 10", "max_steps: 10, fp16_full_eval: true, tf32: true, predict_with_generate: false"
    )
    result = load_config_file(_write(tmp_path, text))
    assert result.ok, result.errors


def test_cpu_host_drops_precision_with_a_warning_naming_the_key():
    args, warnings = adapt_to_host({"tf32": True, "fp16_full_eval": False, "learning_rate": 1e-4}, HostInfo(cuda=False))
    assert args == {"fp16_full_eval": False, "learning_rate": 1e-4}
    [warning] = warnings
    assert warning.startswith("llm_tuning_configs.training_args.tf32: true needs a CUDA GPU")


def test_gpu_without_bf16_refuses_with_the_reason():
    with pytest.raises(HostError, match=r"training_args\.bf16_full_eval: true is not supported by this GPU \(Tesla T4"):
        adapt_to_host({"bf16_full_eval": True}, HostInfo(cuda=True, capability=(7, 5), device="Tesla T4"))
    args, warnings = adapt_to_host({"bf16_full_eval": True}, HostInfo(cuda=True, capability=(8, 0), device="A100"))
    assert (args, warnings) == ({"bf16_full_eval": True}, [])
