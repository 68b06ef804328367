"""The seq2seq path on an NLLB-style tiny M2M100: language codes, forced BOS, LoRA, reload."""

import json

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, GenerationConfig

from mt_assets.training import data, trainer
from mt_assets_tests.tiny_models import CollectingReporter, job, rows, tiny_m2m100, write_jsonl


@pytest.fixture(scope="module")
def m2m_dir(tmp_path_factory):
    return tiny_m2m100(tmp_path_factory.mktemp("tiny-m2m") / "model")


def test_examples_carry_source_and_target_language_codes(m2m_dir):
    tok = AutoTokenizer.from_pretrained(m2m_dir)
    mixed = rows(3, "ar") + rows(3, "fa")
    examples = data.encode_seq2seq(mixed, tok, None, None, max_length=64)
    ar, fa, en = (tok.convert_tokens_to_ids(c) for c in ("arb_Arab", "pes_Arab", "eng_Latn"))
    assert [e["input_ids"][0] for e in examples] == [ar] * 3 + [fa] * 3
    assert all(e["labels"][0] == en and e["labels"][-1] == tok.eos_token_id for e in examples)


def test_unknown_language_code_is_refused(m2m_dir):
    tok = AutoTokenizer.from_pretrained(m2m_dir)
    with pytest.raises(data.DataError, match="fra_Latn"):
        data.encode_seq2seq(rows(2), tok, None, "fra_Latn", max_length=64)


def test_lora_training_saves_adapter_with_forced_bos_and_reloads(m2m_dir, tmp_path):
    reporter = CollectingReporter()
    result = trainer.run(job(tmp_path, m2m_dir, "lora"), reporter)

    logs = reporter.of("log")
    assert [e["step"] for e in logs if e["loss"] is not None] == [1, 2, 3, 4]
    assert any(e["eval_loss"] is not None for e in logs)
    assert all(e["tokens_per_second"] > 0 for e in logs if e["loss"] is not None)
    final = tmp_path / "out" / "final"
    assert (final / "adapter_model.safetensors").is_file()
    assert 0 < result.trainable_params < result.total_params
    assert (
        json.loads((tmp_path / "out" / "result.json").read_text())["artefact_sha256"]
        == result.artefact_sha256
    )

    tok = AutoTokenizer.from_pretrained(final)
    eng = tok.convert_tokens_to_ids("eng_Latn")
    assert GenerationConfig.from_pretrained(final).forced_bos_token_id == eng
    model = PeftModel.from_pretrained(AutoModelForSeq2SeqLM.from_pretrained(m2m_dir), final).eval()
    tok.src_lang = "arb_Arab"
    inputs = tok(["النور الكتاب"], return_tensors="pt")
    with torch.no_grad():
        out = model.generate(
            **inputs, generation_config=GenerationConfig.from_pretrained(final), max_new_tokens=5
        )
    # decoder start, then the forced target-language code
    assert out[0, 1].item() == eng


def test_lora_targets_attention_for_m2m100_which_peft_has_no_default_for(m2m_dir, tmp_path):
    reporter = CollectingReporter()
    trainer.run(job(tmp_path, m2m_dir, "lora", lora_config={"r": 2}), reporter)
    config = json.loads((tmp_path / "out" / "final" / "adapter_config.json").read_text())
    assert set(config["target_modules"]) == {"q_proj", "k_proj", "v_proj", "out_proj"}


def test_a_target_longer_than_the_models_positions_is_truncated_to_them(m2m_dir, tmp_path):
    # The tiny M2M100 embeds 128 positions; training_args.max_length defaults to 256. A model with
    # learned positions cannot embed a longer sequence at all.
    long = rows(4)
    for r in long:
        r["official_translate"] = " ".join([r["official_translate"]] * 60)
    train = write_jsonl(tmp_path / "long.jsonl", long)
    reporter = CollectingReporter()
    prepared = trainer.prepare(
        job(tmp_path, m2m_dir, train_file=train, validation_file=None,
            training_args={"max_steps": 1, "per_device_train_batch_size": 4}), reporter
    )
    assert prepared.max_length == 128
    assert max(len(e["labels"]) for e in prepared.train) == 128
    assert any("max_position_embeddings 128" in w["message"] for w in reporter.of("warning"))


def test_a_step_whose_loss_reaches_no_lora_weight_names_layerdrop(tmp_path):
    # decoder_layerdrop 1.0 skips both decoder layers in every step: what M2M100's default of 0.05
    # does to a two-layer decoder about once in 400 steps.
    dropping = tiny_m2m100(tmp_path / "dropping", decoder_layerdrop=1.0)
    with pytest.raises(trainer.TrainingError, match=r"step 1: .*decoder_layerdrop=1\.0.*set it to 0"):
        trainer.run(job(tmp_path, dropping, training_args={"max_steps": 1, "per_device_train_batch_size": 4},
                        lora_config={"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"]}),
                    CollectingReporter())
