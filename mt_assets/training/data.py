"""Exported JSONL rows -> tokenized training examples (input_ids, attention_mask, labels).

Examples are left unpadded: the collator pads each batch to its own longest example
(dynamic padding), which together with length-grouped batches is where the speed comes from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mt_assets import prompts
from mt_assets.models import jsonl
from mt_assets.models.codes import DataError, has_language_codes, language_code, model_codes

REQUIRED = ("source_text", "official_translate", "source_language")
IGNORE_INDEX = -100  # label value the loss skips (prompt and padding positions)

Example = dict[str, list[int]]


def read_rows(path: Path) -> list[dict[str, Any]]:
    rows = jsonl.read_rows(path, REQUIRED, DataError)
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows


def encode_seq2seq(
    rows: list[dict[str, Any]],
    tokenizer: Any,
    source_code: str | None,
    target_code: str | None,
    max_length: int,
) -> list[Example]:
    if not has_language_codes(tokenizer):
        return _encode_pairs(rows, tokenizer, max_length)
    # One src/tgt pair at a time: setting src_lang rebuilds the tokenizer's post-processor.
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        groups[model_codes(row, source_code, target_code)].append(i)
    out: list[Example | None] = [None] * len(rows)
    for (src, tgt), indices in groups.items():
        language_code(tokenizer, src)
        language_code(tokenizer, tgt)
        tokenizer.src_lang, tokenizer.tgt_lang = src, tgt
        encoded = _encode_pairs([rows[i] for i in indices], tokenizer, max_length)
        for i, example in zip(indices, encoded, strict=True):
            out[i] = example
    return [e for e in out if e is not None]


def _encode_pairs(rows: list[dict[str, Any]], tokenizer: Any, max_length: int) -> list[Example]:
    enc = tokenizer(
        [r["source_text"] for r in rows],
        text_target=[r["official_translate"] for r in rows],
        max_length=max_length,
        truncation=True,
    )
    return [
        {"input_ids": ids, "attention_mask": mask, "labels": labels}
        for ids, mask, labels in zip(enc["input_ids"], enc["attention_mask"], enc["labels"], strict=True)
    ]


def encode_causal(
    rows: list[dict[str, Any]],
    tokenizer: Any,
    template: str,
    max_length: int,
    on_skip: Callable[[dict[str, Any], str], None],
) -> list[Example]:
    """prompt + " " + target + EOS; labels are IGNORE_INDEX over the prompt so only the
    translation is learned."""
    if tokenizer.eos_token_id is None:
        raise DataError("the tokenizer has no EOS token; the model could not learn where a translation ends")
    out = []
    for row in rows:
        prompt = prompts.render(template, row)
        sep = "" if prompt[-1].isspace() else " "
        prompt_ids = tokenizer(prompt)["input_ids"]
        target_ids = tokenizer(sep + row["official_translate"], add_special_tokens=False)["input_ids"]
        target_ids = target_ids + [tokenizer.eos_token_id]
        room = max_length - len(prompt_ids)
        if room < 2:
            on_skip(row, f"prompt is {len(prompt_ids)} tokens, max_length is {max_length}")
            continue
        target_ids = target_ids[:room]
        ids = prompt_ids + target_ids
        out.append(
            {
                "input_ids": ids,
                "attention_mask": [1] * len(ids),
                "labels": [IGNORE_INDEX] * len(prompt_ids) + target_ids,
            }
        )
    if not out:
        raise DataError("no training example fits max_length")
    return out
