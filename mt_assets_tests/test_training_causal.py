"""The decoder-LLM path on a tiny Llama: prompt from the template, loss on the target only."""

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from mt_assets import prompts
from mt_assets.training import data, trainer
from mt_assets_tests.tiny_models import TEMPLATE, CollectingReporter, job, tiny_llama


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory):
    return tiny_llama(tmp_path_factory.mktemp("tiny-llama") / "model")


def test_labels_mask_the_prompt_and_padding_in_a_real_batch(llama_dir, tmp_path):
    prepared = trainer.prepare(job(tmp_path, llama_dir), CollectingReporter())
    batch = trainer.collator(prepared)(prepared.train[:4])
    tok = prepared.tokenizer
    rows = data.read_rows(tmp_path / "train.jsonl")[:4]
    assert batch["input_ids"].shape == batch["labels"].shape
    for i, row in enumerate(rows):
        prompt_len = len(tok(prompts.render(TEMPLATE, row))["input_ids"])
        real = int(batch["attention_mask"][i].sum())
        labels, ids = batch["labels"][i], batch["input_ids"][i]
        assert (labels[:prompt_len] == data.IGNORE_INDEX).all()
        assert torch.equal(labels[prompt_len:real], ids[prompt_len:real])
        assert labels[real - 1].item() == tok.eos_token_id
        assert (labels[real:] == data.IGNORE_INDEX).all()
        target = tok.decode(labels[prompt_len : real - 1])
        assert target.strip() == row["official_translate"]
    # dynamic padding: the batch is as long as its longest example, no longer
    assert batch["input_ids"].shape[1] == max(len(e["input_ids"]) for e in prepared.train[:4])


def test_full_fine_tuning_trains_every_parameter_and_saves_a_model(llama_dir, tmp_path):
    reporter = CollectingReporter()
    result = trainer.run(job(tmp_path, llama_dir, "full"), reporter)
    assert result.trainable_params == result.total_params
    assert result.global_step == 4
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "out" / "final")
    base = AutoModelForCausalLM.from_pretrained(llama_dir)
    changed = [name for name, p in model.state_dict().items() if not torch.equal(p, base.state_dict()[name])]
    assert changed


def test_lora_adapter_reloads_and_generates(llama_dir, tmp_path):
    reporter = CollectingReporter()
    trainer.run(
        job(tmp_path, llama_dir, "lora", training_args={"max_steps": 2, "logging_steps": 1}), reporter
    )
    assert [e["step"] for e in reporter.of("log") if e["loss"] is not None] == [1, 2]
    final = tmp_path / "out" / "final"
    tok = AutoTokenizer.from_pretrained(final)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(llama_dir), final).eval()
    inputs = tok(["Translate Arabic to English.\nArabic: الله\nEnglish:"], return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=3, do_sample=False)
    assert out.shape[1] > inputs["input_ids"].shape[1]


def test_template_rendering_an_empty_prompt_is_refused(llama_dir, tmp_path):
    with pytest.raises(ValueError, match="empty prompt"):
        trainer.prepare(job(tmp_path, llama_dir, prompt_template="   "), CollectingReporter())


def test_out_of_memory_is_reported_with_the_batch_size_to_lower(llama_dir, tmp_path, monkeypatch):
    def exhausted(self, model, inputs, num_items_in_batch=None):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(trainer.CountingTrainer, "training_step", exhausted)
    with pytest.raises(
        trainer.TrainingError, match=r"out of memory.*per_device_train_batch_size \(currently 4\)"
    ):
        trainer.run(job(tmp_path, llama_dir), CollectingReporter())
    assert not (tmp_path / "out" / "result.json").exists()
