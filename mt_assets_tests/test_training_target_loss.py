"""The target-only causal-LM loss equals the model's own loss, and gives the same gradients, for
tiny Llama and Gemma 3 models wrapped in LoRA (Gemma's logit soft-cap included)."""

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import (
    Gemma3ForCausalLM,
    Gemma3TextConfig,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
)

from mt_assets.training.data import IGNORE_INDEX
from mt_assets.training.target_loss import head_of, target_loss

VOCAB = 96


def _model(family: str):
    torch.manual_seed(0)
    if family == "llama":
        config = LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                             num_attention_heads=2, num_key_value_heads=2, pad_token_id=0)
        base = LlamaForCausalLM(config)
    else:
        config = Gemma3TextConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                  num_attention_heads=2, num_key_value_heads=1, head_dim=16, sliding_window=4,
                                  final_logit_softcapping=5.0, pad_token_id=0)
        base = Gemma3ForCausalLM(config)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    return get_peft_model(base, lora)


def _batch() -> dict[str, torch.Tensor]:
    """Three right-padded rows: prompt labels and padding are IGNORE_INDEX, as the collator makes them."""
    torch.manual_seed(1)
    lengths, prompts = [11, 7, 9], [6, 3, 5]
    width = max(lengths)
    input_ids = torch.randint(1, VOCAB, (3, width))
    mask = torch.zeros(3, width, dtype=torch.long)
    labels = torch.full((3, width), IGNORE_INDEX)
    for row, (length, prompt) in enumerate(zip(lengths, prompts, strict=True)):
        mask[row, :length] = 1
        labels[row, prompt:length] = input_ids[row, prompt:length]
        input_ids[row, length:] = 0
    return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}


def _grads(model) -> dict[str, torch.Tensor]:
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("family", ["llama", "gemma3_text"])
@pytest.mark.parametrize("items", [None, 13])
def test_same_loss_and_gradients_as_the_models_own(family, items):
    model = _model(family)
    inputs = _batch()
    kwargs = {} if items is None else {"num_items_in_batch": torch.tensor(items)}
    theirs = model(**inputs, **kwargs).loss
    theirs.backward()
    expected = _grads(model)
    model.zero_grad()

    head = head_of(model)
    assert head is not None
    assert (head.softcap is not None) is (family == "gemma3_text")
    mine = target_loss(head, inputs, None if items is None else torch.tensor(items))
    mine.backward()
    assert torch.allclose(mine, theirs, atol=1e-6), (mine.item(), theirs.item())
    for name, grad in _grads(model).items():
        assert torch.allclose(grad, expected[name], atol=1e-6), name


def test_other_families_keep_the_models_own_forward():
    torch.manual_seed(0)
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=VOCAB, n_embd=32, n_layer=1, n_head=2))
    assert head_of(gpt2) is None


def test_trainer_trains_decoders_through_it(tmp_path, monkeypatch):
    from transformers import TrainingArguments

    from mt_assets.training import target_loss as module
    from mt_assets.training.events import TokenCounter
    from mt_assets.training.trainer import CountingTrainer

    calls = []
    original = module.target_loss
    monkeypatch.setattr(module, "target_loss", lambda *a, **k: calls.append(1) or original(*a, **k))
    model = _model("llama")
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to=[], label_names=["labels"])
    trainer = CountingTrainer(model=model, args=args, tokens=TokenCounter(), seq2seq=False)
    inputs = _batch()
    loss = trainer.compute_loss(model, dict(inputs))
    assert calls == [1]
    assert torch.allclose(loss, model(**inputs).loss, atol=1e-6)
    # evaluation asks for the outputs: the model's own forward, full logits
    _, outputs = trainer.compute_loss(model, dict(inputs), return_outputs=True)
    assert calls == [1] and outputs.logits.shape == (3, 11, VOCAB)
