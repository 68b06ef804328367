"""The stop rule for decoder LLMs: a job with stop_at_newline ends a row at its first newline and
cuts it there; without it (a reference of the config's data spans lines) a row runs to EOS with
its newlines kept. Both the row-dropping greedy loop and transformers' generate() honour it, and
training teaches a multi-line target with its newlines, ending in EOS, as decoding then expects."""

from pathlib import Path

import pytest
from transformers import AutoTokenizer, GenerationConfig

from mt_assets.training.data import IGNORE_INDEX, encode_causal
from mt_assets.translation import greedy
from mt_assets.translation.generate import load, run_translation
from mt_assets_tests.tiny_models import TEMPLATE, rows, scripted_llama, translation_job

SCRIPT = "A\x00B\x1b\nC"  # what the scripted model generates after any prompt, then EOS


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """The scripted model twice: as saved (the greedy loop decodes it) and with a generation config
    that adds a logits processor, which only generate() applies (min_new_tokens=1 never binds here:
    EOS comes last)."""
    base = tmp_path_factory.mktemp("scripted")
    plain = scripted_llama(base / "plain", SCRIPT)
    processed = scripted_llama(base / "processed", SCRIPT)
    config = GenerationConfig.from_pretrained(processed)
    config.min_new_tokens = 1
    config.save_pretrained(processed)
    return {"greedy": plain, "generate": processed}


@pytest.mark.parametrize("decoder", ["greedy", "generate"])
@pytest.mark.parametrize(
    ("stop_at_newline", "text", "tokens"),
    [(True, "A\x00B\x1b", 5), (False, SCRIPT, 7)],  # 5: up to the newline; 7: the script and EOS
)
def test_newline_ends_a_row_only_where_the_job_says(tmp_path, models, decoder, stop_at_newline, text, tokens):
    job = translation_job(
        tmp_path, models[decoder], 3, tmp_path / "models",
        prompt_template=TEMPLATE, max_new_tokens=12, stop_at_newline=stop_at_newline,
    )
    assert greedy.plain(load(job).model.generation_config) is (decoder == "greedy")
    events: list[dict] = []
    run_translation(job, events.append)
    outputs = [e for e in events if e["event"] == "translation"]
    assert [e["translated_text"] for e in outputs] == [text] * 3
    assert [e["generated_tokens"] for e in outputs] == [tokens] * 3


def test_training_teaches_a_multi_line_target_with_its_newlines_then_eos(tmp_path, models):
    tok = AutoTokenizer.from_pretrained(models["greedy"])
    row = {**rows(1)[0], "official_translate": "first line\nsecond line"}
    (example,) = encode_causal([row], tok, TEMPLATE, 256, lambda row, why: pytest.fail(why))
    learned = [t for t in example["labels"] if t != IGNORE_INDEX]
    assert learned[-1] == tok.eos_token_id
    assert tok.decode(learned[:-1]) == " first line\nsecond line"
