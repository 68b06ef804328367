"""The fast path for decoder LLMs: the few-shot prefix's cache computed once and laid out as left
padding would, and greedy decoding that drops finished rows, both giving exactly the tokens of
transformers' generate() called one row at a time with the whole prompt."""

from pathlib import Path

import pytest
import torch
from transformers import GenerationConfig

from mt_assets.translation import greedy
from mt_assets.translation.generate import (
    StopAtNewline,
    _inputs,
    batch_cache,
    generate_ids,
    load,
    read_inputs,
    shared_prefix,
)
from mt_assets.translation.spec import TranslationJob
from mt_assets_tests.tiny_models import TEMPLATE, rows, tiny_llama, translation_job


def _job(tmp_path: Path, model_dir: Path, n: int, **fields) -> TranslationJob:
    defaults = {"prompt_template": TEMPLATE, "max_new_tokens": 24, "few_shot": tuple(rows(2, seed=99))}
    return translation_job(tmp_path, model_dir, n, tmp_path / "models", **{**defaults, **fields})


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return tiny_llama(tmp_path_factory.mktemp("llama") / "llama", initializer_range=0.3)


@pytest.mark.parametrize("with_prefix", [True, False])
def test_batched_greedy_gives_generate_one_row_at_a_time_tokens(tmp_path, model_dir, with_prefix):
    job = _job(tmp_path, model_dir, 7)
    loaded = load(job)
    texts = _inputs(job, loaded, read_inputs(job.input_file))
    stop = StopAtNewline(loaded.tokenizer)
    caps = [3, 24, 9, 1, 17, 24, 5]  # rows leave the batch at different steps
    prefix = shared_prefix(job, loaded) if with_prefix else None
    assert (prefix is not None) is with_prefix

    batched = generate_ids(job, loaded, texts, (), stop, caps, prefix)
    pad = loaded.tokenizer.pad_token_id
    for row, (text, cap) in enumerate(zip(texts, caps, strict=True)):
        alone = generate_ids(job, loaded, [text], (), stop, [cap], drop_finished=False)[0].tolist()
        mine = batched[row].tolist()
        assert mine[: len(alone)] == alone, f"row {row}"
        assert all(token == pad for token in mine[len(alone) :]), f"row {row} runs on after its stop"
    assert batched.shape[1] == max(caps)  # the random tiny model does not stop by itself


def test_prefix_cache_holds_what_a_left_padded_forward_computes(tmp_path, model_dir):
    job = _job(tmp_path, model_dir, 5)
    loaded = load(job)
    texts = _inputs(job, loaded, read_inputs(job.input_file))
    prefix = shared_prefix(job, loaded)
    assert prefix is not None
    length = len(prefix.ids)
    encoded = loaded.tokenizer(texts, return_tensors="pt", padding=True)
    mask = encoded["attention_mask"]
    pads = (mask == 0).sum(dim=1)
    assert pads.max() > 0  # the rows differ in length, so the layout is exercised

    cache = batch_cache(prefix, encoded["input_ids"], mask)
    assert cache is not None and cache.get_seq_length() == length
    positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)
    with torch.inference_mode():
        reference = loaded.model(
            input_ids=encoded["input_ids"][:, :length],
            attention_mask=mask[:, :length],
            position_ids=positions[:, :length],
            use_cache=True,
        ).cache
    for mine, theirs in zip(cache.layers, reference.layers, strict=True):
        for row, pad in enumerate(pads.tolist()):
            assert torch.allclose(mine.keys[row, :, pad:], theirs.keys[row, :, pad:], atol=1e-5)
            assert torch.allclose(mine.values[row, :, pad:], theirs.values[row, :, pad:], atol=1e-5)
            assert not mine.keys[row, :, :pad].any()  # pads hold nothing (and are masked out)


def test_prefix_cache_is_not_used_where_it_could_change_outputs(tmp_path, model_dir):
    no_examples = _job(tmp_path, model_dir, 3, few_shot=())
    loaded = load(no_examples)
    assert shared_prefix(no_examples, loaded) is None

    beams = _job(tmp_path, model_dir, 3, num_beams=2)
    texts = _inputs(beams, loaded, read_inputs(beams.input_file))
    assert shared_prefix(beams, loaded) is None

    usable = _job(tmp_path, model_dir, 3)
    prefix = shared_prefix(usable, loaded)
    encoded = loaded.tokenizer(["some other prompt"] + texts[1:], return_tensors="pt", padding=True)
    assert batch_cache(prefix, encoded["input_ids"], encoded["attention_mask"]) is None


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, True),
        ({"temperature": 0.7, "top_k": 64, "top_p": 0.95}, True),  # sampling-only: greedy ignores them
        ({"repetition_penalty": 1.2}, False),
        ({"no_repeat_ngram_size": 3}, False),
        ({"min_new_tokens": 2, "eos_token_id": 1}, False),
        ({"bad_words_ids": [[5]]}, False),
        ({"suppress_tokens": [7]}, False),
    ],
)
def test_greedy_loop_only_where_generate_adds_no_logits_processor(fields, expected):
    assert greedy.plain(GenerationConfig(**fields)) is expected
