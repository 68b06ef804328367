"""Batched, length-sorted generation for one TranslationJob.

The model (and its PEFT adapter, merged into the weights) is loaded once. Rows are sorted
by tokenized length, longest first, so each batch pads little and a too-long batch fails at
the start rather than at the end. Seq2seq models with language codes (NLLB) get the
source code as `src_lang` and the target code as the forced first token; decoder LLMs get
left padding and stop at EOS, and at the first newline (cut there) where the job's
`stop_at_newline` says no reference of the config's data spans lines.

A decoder LLM's few-shot examples open every prompt, so their key/value cache is computed once per
job (`shared_prefix`) and each batch starts from it (`batch_cache`): on a CPU the 3-shot prefix
(240 of Gemma's tokens in the demo configs) would otherwise be most of every row's prefill. The batch cache lays the prefix out
exactly as left padding does (pads first, then the prefix), so each row sees the same tokens at the
same positions as when it is generated alone.

The job's precision (`mt_assets.models.precision`) is resolved on this host before the model loads
(a host that cannot run it refuses with a TranslationError); the weights load in that dtype and generation
runs under autocast for bf16/fp16. The `start` and `done` events carry the resolved precision.

Events (one dict each, in order of completion):
  {"event": "start", "method", "task", "total", "precision", "precision_reason"}
  {"event": "translation", "tuning_dataset_distribution_id", "translated_text", "latency_ms",
   "generated_tokens"}
  {"event": "progress", "done", "total", "sentences_per_second", "eta_seconds"}
  {"event": "done", "method", "total", "seconds", "sentences_per_second", "generated_tokens",
   "tokens_per_second", "precision" (None when there was nothing to translate)}
`latency_ms` is the row's share of its batch's wall time (batch time / batch size): rows
generated together have no separate latency of their own. `generated_tokens` counts the tokens
the model generated for the row (up to and including its stop token, without padding).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import DynamicCache, StoppingCriteria, StoppingCriteriaList
from transformers.cache_utils import DynamicLayer, DynamicSlidingWindowLayer

from mt_assets import prompts
from mt_assets.models import jsonl, sources
from mt_assets.models import precision as precisions
from mt_assets.models.codes import has_language_codes, language_code, model_codes
from mt_assets.models.kind import model_kind
from mt_assets.models.loading import load_pretrained, load_tokenizer
from mt_assets.translation import greedy
from mt_assets.translation.errors import TranslationError
from mt_assets.translation.spec import INPUT_FIELDS, TranslationJob

Emit = Callable[[dict[str, Any]], None]
STOP_TEXT = "\n"
# Between rendered few-shot examples: a blank line, so an example never runs into the next prompt.
EXAMPLE_SEPARATOR = "\n\n"
# New tokens allowed on top of max_new_tokens_per_source_token x source tokens (short sources).
SOURCE_CAP_SLACK = 16


def read_inputs(path: Path) -> list[dict[str, Any]]:
    return jsonl.read_rows(path, INPUT_FIELDS, TranslationError)


@dataclass
class Loaded:
    task: str
    tokenizer: Any
    model: Any
    device: torch.device
    precision: precisions.Resolved

    def autocast(self) -> Any:
        return precisions.autocast(self.precision, self.device.type)


def resolve_precision(job: TranslationJob) -> precisions.Resolved:
    try:
        return precisions.resolve(job.precision, precisions.HostInfo.detect())
    except precisions.PrecisionError as exc:
        raise TranslationError(f"{job.method}: {exc}") from None


def load(job: TranslationJob) -> Loaded:
    resolved = resolve_precision(job)  # before anything loads: a host that cannot run it refuses now
    model_dir = sources.resolve(job.llm_model, job.models_cache_dir)
    task = model_kind(model_dir, job.task).kind
    if task == "causal" and not job.prompt_template:
        raise TranslationError(f"{job.method}: a decoder LLM needs a prompt template")
    # Left padding: a decoder continues from the last position, which must be the prompt's end.
    tokenizer = load_tokenizer(model_dir, padding_side="left" if task == "causal" else "right")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    # Inference keeps no fp32 master weights to protect: weights in the resolved dtype halve their
    # memory for bf16/fp16 (as weights on a bf16 GPU loaded before precision had one home).
    model = load_pretrained(model_dir, task, dtype=precisions.torch_dtype(resolved.precision))
    if job.adapter_dir is not None:
        from peft import PeftModel

        if not (job.adapter_dir / "adapter_config.json").is_file():
            raise TranslationError(
                f"{job.method}: {job.adapter_dir} is not a PEFT adapter (no adapter_config.json)"
            )
        # Merged once, the adapter costs nothing per generated token.
        model = PeftModel.from_pretrained(model, job.adapter_dir).merge_and_unload()
    return Loaded(task, tokenizer, model.to(device).eval(), device, resolved)


class StopAtNewline(StoppingCriteria):
    """Ends a row when its newest token contains a newline (EOS ends it anyway). Decides by
    decoding tokens, memoised per id, because tokenizers spell newlines differently."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self._seen: dict[int, bool] = {}

    def flags(self, tokens: list[int]) -> list[bool]:
        for token in tokens:
            if token not in self._seen:
                self._seen[token] = STOP_TEXT in self._tokenizer.decode([token])
        return [self._seen[token] for token in tokens]

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return torch.tensor(self.flags(input_ids[:, -1].tolist()), dtype=torch.bool, device=input_ids.device)


def cut_at_stop(text: str) -> str:
    """The translation is the continuation up to its first newline."""
    return text.split(STOP_TEXT, 1)[0].strip()


def few_shot_prefix(job: TranslationJob) -> str:
    blocks = []
    for example in job.few_shot:
        prompt = prompts.render(job.prompt_template or "", example)
        sep = "" if prompt[-1].isspace() else " "  # as training joins prompt and target
        blocks.append(prompt + sep + example["official_translate"].strip())
    return "".join(block + EXAMPLE_SEPARATOR for block in blocks)


@dataclass(frozen=True)
class SharedPrefix:
    """The token ids every prompt of a job opens with (BOS and the few-shot examples) and their
    key/value cache for one row."""

    ids: tuple[int, ...]
    cache: DynamicCache


def shared_prefix(job: TranslationJob, loaded: Loaded) -> SharedPrefix | None:
    """The few-shot prefix's cache, or None where reusing it could change an output: no examples,
    beam search (generate expands the batch itself), a cache other than plain dynamic layers, or a
    sliding-window layer too short to hold the whole prefix. (A prompt whose tokens do not start with
    the prefix's own, a merge across the boundary, is caught per batch by `batch_cache`.)"""
    if loaded.task != "causal" or not job.few_shot or job.num_beams != 1:
        return None
    ids = tuple(loaded.tokenizer(few_shot_prefix(job))["input_ids"])
    with torch.inference_mode(), loaded.autocast():
        cache = loaded.model(
            input_ids=torch.tensor([ids], device=loaded.device), use_cache=True, logits_to_keep=1
        ).cache
    if not isinstance(cache, DynamicCache):
        return None
    for layer in cache.layers:
        if type(layer) not in (DynamicLayer, DynamicSlidingWindowLayer) or layer.get_seq_length() != len(ids):
            return None
        if isinstance(layer, DynamicSlidingWindowLayer) and len(ids) >= layer.sliding_window - 1:
            return None
    return SharedPrefix(ids, cache)


def batch_cache(prefix: SharedPrefix, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> DynamicCache | None:
    """The cache of a left-padded batch's first len(prefix) columns: row i holds its p_i pads (zeros,
    masked out) and then the prefix's first len(prefix) - p_i positions, as if generated from scratch;
    generate recomputes the rest. None when a row does not hold the prefix after its pads, or pads
    more than the prefix is long."""
    length = len(prefix.ids)
    pads = (attention_mask == 0).sum(dim=1).tolist()
    expected = torch.tensor(prefix.ids, device=input_ids.device)
    for row, pad in enumerate(pads):
        if pad > length or not torch.equal(input_ids[row, pad : pad + length], expected):
            return None
    cache = copy.deepcopy(prefix.cache)
    for layer in cache.layers:
        layer.keys, layer.values = (_shifted(layer.keys, pads), _shifted(layer.values, pads))
    return cache


def _shifted(states: torch.Tensor, pads: list[int]) -> torch.Tensor:
    """[1, heads, P, dim] states -> [rows, heads, P, dim], row i moved right by pads[i] (zeros before)."""
    length = states.shape[-2]
    rows = [
        torch.cat([states.new_zeros(*states.shape[:-2], pad, states.shape[-1]), states[..., : length - pad, :]], dim=-2)
        for pad in pads
    ]
    return torch.cat(rows, dim=0)


def _prompt(job: TranslationJob, prefix: str, row: dict[str, Any]) -> str:
    try:
        return prefix + prompts.render(job.prompt_template or "", row)
    except (KeyError, ValueError) as exc:
        raise TranslationError(
            f"row {row['tuning_dataset_distribution_id']}: cannot render the prompt: {exc}"
        ) from None


def _batches(order: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(order), size):
        yield list(order[start : start + size])


def _inputs(job: TranslationJob, loaded: Loaded, rows: list[dict[str, Any]]) -> list[str]:
    if loaded.task == "seq2seq":
        return [r["source_text"] for r in rows]
    prefix = few_shot_prefix(job)
    return [_prompt(job, prefix, r) for r in rows]


def _plan(
    job: TranslationJob, loaded: Loaded, rows: list[dict[str, Any]], texts: list[str]
) -> list[tuple[tuple, list[int]]]:
    """Groups of row indices sharing language codes, each sorted longest first."""
    tok = loaded.tokenizer
    codes_needed = loaded.task == "seq2seq" and has_language_codes(tok)
    groups: dict[tuple, list[int]] = {}
    for index, row in enumerate(rows):
        key = (
            model_codes(row, job.source_language_code, job.target_language_code) if codes_needed else ()
        )
        groups.setdefault(key, []).append(index)
    lengths = [len(ids) for ids in tok(texts, add_special_tokens=False)["input_ids"]]
    return [(key, sorted(indices, key=lambda i: (-lengths[i], i))) for key, indices in sorted(groups.items())]


def row_caps(job: TranslationJob, loaded: Loaded, rows: list[dict[str, Any]]) -> list[int]:
    """Each row's new-token budget: max_new_tokens, or less when the job caps output length relative
    to the source (measured on the Quran with Gemma's tokenizer, English needs at most 2 x the
    Arabic or Persian tokens + 16: a longer output is a model repeating itself)."""
    ratio = job.max_new_tokens_per_source_token
    if ratio is None:
        return [job.max_new_tokens] * len(rows)
    sources = loaded.tokenizer([r["source_text"] for r in rows], add_special_tokens=False)["input_ids"]
    return [min(job.max_new_tokens, math.ceil(ratio * len(ids)) + SOURCE_CAP_SLACK) for ids in sources]


def generate_ids(
    job: TranslationJob,
    loaded: Loaded,
    texts: list[str],
    codes: tuple,
    stop: StopAtNewline | None,
    caps: list[int] | None = None,
    prefix: SharedPrefix | None = None,
    drop_finished: bool = True,
) -> torch.Tensor:
    """The generated token ids of one batch (for decoder LLMs without the prompt); a decoder row
    also stops at a newline where `stop` is given. With `caps`, the
    batch generates up to its largest cap and each row is cut to its own, so a row's output does
    not depend on the rows batched with it. With `prefix`, generation starts from its cache.
    Greedy decoder batches drop finished rows (`greedy.decode`) unless `drop_finished` is False
    or the model's generation config needs `generate`'s logits processors."""
    tok, model = loaded.tokenizer, loaded.model
    kwargs: dict[str, Any] = {
        "max_new_tokens": max(caps) if caps else job.max_new_tokens,
        "num_beams": job.num_beams,
        "do_sample": False,
        "pad_token_id": tok.pad_token_id,
    }
    if codes:
        source, target = codes
        language_code(tok, source)
        tok.src_lang = source
        # NLLB must start every translation with the target language's code token.
        kwargs["forced_bos_token_id"] = language_code(tok, target)
    if loaded.task == "causal":
        if stop is not None:
            kwargs["stopping_criteria"] = StoppingCriteriaList([stop])
        kwargs["eos_token_id"] = _eos_ids(model, tok)
    encoded = tok(texts, return_tensors="pt", padding=True).to(loaded.device)
    cache = None
    if prefix is not None and loaded.task == "causal":
        cache = batch_cache(prefix, encoded["input_ids"], encoded["attention_mask"])
    if drop_finished and loaded.task == "causal" and job.num_beams == 1 and greedy.plain(model.generation_config):
        with torch.inference_mode(), loaded.autocast():
            return greedy.decode(
                model,
                encoded["input_ids"],
                encoded["attention_mask"],
                caps or [job.max_new_tokens] * len(texts),
                stop.flags if stop is not None else _never_stop,
                kwargs["eos_token_id"] or [],
                tok.pad_token_id,
                cache,
            )
    if cache is not None:
        kwargs["cache"] = cache
    with torch.inference_mode(), loaded.autocast():
        output = model.generate(**encoded, **kwargs)
        generated = output[:, encoded["input_ids"].shape[1] :] if loaded.task == "causal" else output
        if caps and min(caps) < max(caps):
            generated = generated.clone()
            start = 0 if loaded.task == "causal" else 1  # a seq2seq output opens with the decoder start token
            for row, cap in enumerate(caps):
                generated[row, start + cap :] = tok.pad_token_id
    return generated


def _never_stop(tokens: list[int]) -> list[bool]:
    return [False] * len(tokens)


def _eos_ids(model: Any, tok: Any) -> list[int] | None:
    """The model's own end tokens (Gemma has several, e.g. <eos> and <end_of_turn>) plus the tokenizer's."""
    configured = model.generation_config.eos_token_id
    ids = list(configured) if isinstance(configured, list) else [] if configured is None else [configured]
    if tok.eos_token_id is not None and tok.eos_token_id not in ids:
        ids.append(tok.eos_token_id)
    return ids or None


def generated_lengths(loaded: Loaded, ids: torch.Tensor) -> list[int]:
    """Tokens generated per row of `generate_ids`' output: padding (after a row stopped, while the rest
    of its batch went on) and the seq2seq decoder start token are not generated."""
    start = 1 if loaded.task == "seq2seq" else 0
    pad = loaded.tokenizer.pad_token_id
    return [int((row[start:] != pad).sum()) for row in ids]


def decode(loaded: Loaded, ids: torch.Tensor, stop: StopAtNewline | None) -> list[str]:
    texts = loaded.tokenizer.batch_decode(ids, skip_special_tokens=True)
    if loaded.task == "causal" and stop is not None:
        return [cut_at_stop(t) for t in texts]
    return [t.strip() for t in texts]


def run_translation(job: TranslationJob, emit: Emit) -> int:
    """Translate every row of job.input_file; returns how many were translated. An empty
    output is a real (bad) translation and is emitted as ""; a model that cannot load or
    generate raises."""
    rows = read_inputs(job.input_file)
    total = len(rows)
    if total == 0:
        emit(
            {
                "event": "done",
                "method": job.method,
                "total": 0,
                "seconds": 0.0,
                "sentences_per_second": None,
                "generated_tokens": 0,
                "tokens_per_second": None,
                "precision": None,  # nothing loaded, nothing resolved
            }
        )
        return 0
    loaded = load(job)
    emit({"event": "start", "method": job.method, "task": loaded.task, "total": total, **loaded.precision.record()})
    texts = _inputs(job, loaded, rows)
    stop = StopAtNewline(loaded.tokenizer) if job.stop_at_newline else None
    caps = row_caps(job, loaded, rows)
    started = time.perf_counter()
    prefix = shared_prefix(job, loaded)
    done = tokens = 0
    for codes, order in _plan(job, loaded, rows, texts):
        for batch in _batches(order, job.batch_size):
            batch_rows = [rows[i] for i in batch]
            batch_started = time.perf_counter()
            ids = generate_ids(
                job, loaded, [texts[i] for i in batch], codes, stop, [caps[i] for i in batch], prefix
            )
            outputs, lengths = decode(loaded, ids, stop), generated_lengths(loaded, ids)
            latency_ms = (time.perf_counter() - batch_started) * 1000 / len(batch)
            tokens += sum(lengths)
            for row, text, length in zip(batch_rows, outputs, lengths, strict=True):
                emit(
                    {
                        "event": "translation",
                        "tuning_dataset_distribution_id": row["tuning_dataset_distribution_id"],
                        "translated_text": text,
                        "latency_ms": latency_ms,
                        "generated_tokens": length,
                    }
                )
            done += len(batch)
            elapsed = time.perf_counter() - started
            rate = done / elapsed if elapsed > 0 else None
            emit(
                {
                    "event": "progress",
                    "done": done,
                    "total": total,
                    "sentences_per_second": rate,
                    "eta_seconds": (total - done) / rate if rate else None,
                }
            )
    seconds = time.perf_counter() - started
    emit(
        {
            "event": "done",
            "method": job.method,
            "total": total,
            "seconds": seconds,
            "sentences_per_second": total / seconds if seconds > 0 else None,
            "generated_tokens": tokens,
            "tokens_per_second": tokens / seconds if seconds > 0 else None,
            "precision": loaded.precision.precision,
        }
    )
    return total
