"""The causal-LM training loss computed from the target positions' logits only.

A decoder LLM learns to continue the prompt with the translation; the prompt's labels are
IGNORE_INDEX, yet `ForCausalLM.forward` projects every position onto the vocabulary before the
loss drops them. With Gemma 3's 262k-token vocabulary that projection (forward and backward) is
most of a training step on a CPU, and its float32 logits (batch x length x 262k) most of the
memory. Here the decoder's last hidden states are gathered at the positions that predict a
target token and only those go through the output head: the same loss and gradients, for the
cost of the target tokens.

It applies to model families whose causal-LM head is exactly `lm_head(last_hidden_state)`
(Gemma 2/3 add a final soft-cap, applied here too); `head_of(model)` returns None for any other,
which then trains through the model's own forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from mt_assets.training.data import IGNORE_INDEX

# model_type values whose ForCausalLM forward is lm_head(decoder(...).last_hidden_state) [+ soft-cap].
PLAIN_HEAD_MODEL_TYPES = frozenset(
    {"llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text"}
)


@dataclass(frozen=True)
class Head:
    decoder: nn.Module
    lm_head: nn.Module
    softcap: float | None


def head_of(model: Any) -> Head | None:
    """The decoder and output head of a (PEFT-wrapped) causal LM of a known family, else None."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = getattr(base, "config", None)
    if getattr(config, "model_type", None) not in PLAIN_HEAD_MODEL_TYPES:
        return None
    decoder, lm_head = base.get_decoder(), base.get_output_embeddings()
    if decoder is None or lm_head is None or decoder is base:
        return None
    return Head(decoder, lm_head, getattr(config, "final_logit_softcapping", None))


def target_loss(
    head: Head,
    inputs: dict[str, torch.Tensor],
    num_items_in_batch: torch.Tensor | int | None = None,
) -> torch.Tensor:
    """Cross-entropy over the positions whose next label is not IGNORE_INDEX; summed and divided
    by num_items_in_batch when given (gradient accumulation), else the mean, as transformers'
    ForCausalLMLoss does."""
    labels = inputs["labels"]
    hidden = head.decoder(input_ids=inputs["input_ids"], attention_mask=inputs.get("attention_mask")).last_hidden_state
    next_labels = labels[:, 1:]
    predicts = next_labels != IGNORE_INDEX
    logits = head.lm_head(hidden[:, :-1][predicts])
    if head.softcap is not None:
        logits = torch.tanh(logits / head.softcap) * head.softcap
    targets = next_labels[predicts].to(logits.device)
    if num_items_in_batch is None:
        return nn.functional.cross_entropy(logits.float(), targets, reduction="mean")
    loss = nn.functional.cross_entropy(logits.float(), targets, reduction="sum")
    if torch.is_tensor(num_items_in_batch):
        num_items_in_batch = num_items_in_batch.to(loss.device)
    return loss / num_items_in_batch
