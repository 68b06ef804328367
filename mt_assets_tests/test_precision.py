"""Precision (`mt_assets.models.precision`): what each request resolves to on each kind of host, the
config field and its hashes, and real tiny trainings and a translation that record what they ran in."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mt_assets.models.precision import CPU_AUTO_REASON, HostInfo, PrecisionError, cpu_flags, resolve
from mt_assets.training import trainer
from mt_assets.training.spec import TrainingResult
from mt_assets.translation import generate
from mt_assets.translation.errors import TranslationError
from mt_assets.tuning.config import load_config_file
from mt_assets_tests.test_tuning_config import GOOD
from mt_assets_tests.tiny_models import TEMPLATE, CollectingReporter, job, tiny_llama, translation_job

CPU_PLAIN = HostInfo(cuda=False, device="CPU", cpu_bf16=False)
CPU_BF16 = HostInfo(cuda=False, device="CPU", cpu_bf16=True)
T4 = HostInfo(cuda=True, capability=(7, 5), device="Tesla T4")
A100 = HostInfo(cuda=True, capability=(8, 0), device="NVIDIA A100")
H100 = HostInfo(cuda=True, capability=(9, 0), device="NVIDIA H100")
HOST_HAS_BF16 = bool(cpu_flags() & {"amx_bf16", "avx512_bf16"})


@pytest.mark.parametrize(
    ("host", "requested", "expected"),
    [
        # auto: fp32 on every CPU until the benchmark says otherwise, bf16 from Ampere, fp16 before it
        (CPU_PLAIN, "auto", "fp32"),
        (CPU_BF16, "auto", "fp32"),
        (T4, "auto", "fp16"),
        (A100, "auto", "bf16"),
        (H100, "auto", "bf16"),
        *[(host, "fp32", "fp32") for host in (CPU_PLAIN, CPU_BF16, T4, A100, H100)],
        (CPU_BF16, "bf16", "bf16"),
        (A100, "bf16", "bf16"),
        (H100, "bf16", "bf16"),
        (CPU_PLAIN, "bf16", r"bf16 cannot run on this CPU \(no amx_bf16 or avx512_bf16\).*set precision: fp32"),
        (T4, "bf16", r"bf16 cannot run on Tesla T4 \(compute capability 7\.5\).*Ampere.*set precision: fp16"),
        (T4, "fp16", "fp16"),
        (A100, "fp16", "fp16"),
        (H100, "fp16", "fp16"),
        (CPU_PLAIN, "fp16", r"fp16 needs a CUDA GPU, and this CPU \(no amx_bf16 or avx512_bf16\) is not one; set precision: fp32"),
        (CPU_BF16, "fp16", r"fp16 needs a CUDA GPU, and this CPU \(amx_bf16/avx512_bf16\) is not one; set precision: bf16 \(this CPU has it\) or fp32"),
    ],
)
def test_resolve_per_host(host, requested, expected):
    if expected in ("fp32", "bf16", "fp16"):
        resolved = resolve(requested, host)
        assert resolved.precision == expected
        assert resolved.reason
    else:
        with pytest.raises(PrecisionError, match=r"^llm_tuning_configs\.precision: " + expected):
            resolve(requested, host)


def test_auto_on_a_cpu_says_why_it_stays_fp32():
    assert resolve("auto", CPU_BF16).line() == f"precision: fp32 ({CPU_AUTO_REASON})"


def test_cpu_flags_come_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f amx_bf16 amx_tile\n")
    assert HostInfo.detect(info).cpu_bf16
    assert "amx_bf16" in cpu_flags(info)
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2\n")
    assert not HostInfo.detect(info).cpu_bf16
    assert cpu_flags(tmp_path / "missing") == frozenset()


# An existing config's hashes before `precision` existed (GOOD, computed with the config model of
# b5c57de): `auto`, spelled out or not, must leave them as they were, or every trained model goes stale.
GOOD_HASHES = (
    "e6b2b1ade93b4a69e4439d104ec63a5ddbd5d0988939e8b9b796a6e7a76effd5",
    "c6c12ffcb012650cb721f0d3d536c34fa9cc77ab69318ac85b5db1a97ce213bd",
    "583c7b97452996f016153fef9290c4b9f9bb629ae0d408899d6c39834f69528b",
)


def _config(tmp_path: Path, text: str, name: str):
    path = tmp_path / name
    path.write_text(text)
    return load_config_file(path)


def _hashes(config) -> tuple[str, str, str]:
    return config.sha256, config.model_sha256, config.generation_sha256


def test_auto_keeps_an_existing_configs_hashes_and_bf16_changes_the_model(tmp_path):
    base = _config(tmp_path, GOOD, "base.yaml").config
    auto = _config(tmp_path, GOOD + "  precision: auto\n", "auto.yaml").config
    bf16 = _config(tmp_path, GOOD + "  precision: bf16\n", "bf16.yaml").config
    assert base.llm_tuning_configs.precision == "auto" and bf16.llm_tuning_configs.precision == "bf16"
    assert _hashes(base) == _hashes(auto) == GOOD_HASHES
    assert bf16.model_sha256 != base.model_sha256 and bf16.sha256 != base.sha256
    assert bf16.generation_sha256 == base.generation_sha256


@pytest.mark.parametrize("key", ["fp16", "bf16"])
def test_training_args_precision_keys_are_refused_naming_the_field(tmp_path, key):
    text = GOOD.replace("max_steps: 10}", f"max_steps: 10, {key}: true}}")
    result = _config(tmp_path, text, "c.yaml")
    assert result.config is None
    assert any(
        f"llm_tuning_configs.training_args.{key}:" in e and f"use llm_tuning_configs.precision: {key} instead" in e
        for e in result.errors
    ), result.errors


def test_an_unknown_precision_is_refused(tmp_path):
    result = _config(tmp_path, GOOD + "  precision: fp8\n", "c.yaml")
    assert any("llm_tuning_configs.precision" in e and "'auto'" in e for e in result.errors), result.errors


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory):
    return tiny_llama(tmp_path_factory.mktemp("tiny-llama") / "model")


def _watch_compute_dtypes(monkeypatch) -> set[torch.dtype]:
    """The dtypes the model's linear layers compute in during the run (a forward hook on each,
    registered on the real model as the trainer loads it)."""
    seen: set[torch.dtype] = set()
    load = trainer.modeling.load_model

    def watched(*args, **kwargs):
        model = load(*args, **kwargs)
        for module in model.modules():
            if isinstance(module, torch.nn.Linear):
                module.register_forward_hook(lambda _m, _i, out: seen.add(out.dtype))
        return model

    monkeypatch.setattr(trainer.modeling, "load_model", watched)
    return seen


def _train(tmp_path: Path, model_dir: Path, precision: str) -> tuple[TrainingResult, CollectingReporter]:
    reporter = CollectingReporter()
    result = trainer.run(
        job(tmp_path, model_dir, "lora", precision=precision, training_args={"max_steps": 2, "logging_steps": 1}),
        reporter,
    )
    return result, reporter


@pytest.mark.skipif(torch.cuda.is_available() or not HOST_HAS_BF16, reason="CPU bf16 autocast needs AMX/avx512_bf16")
def test_training_in_bf16_on_this_cpu_records_it(llama_dir, tmp_path, monkeypatch):
    computed = _watch_compute_dtypes(monkeypatch)
    result, reporter = _train(tmp_path, llama_dir, "bf16")
    assert computed == {torch.bfloat16}  # every matrix product under autocast
    assert result.environment["precision"] == "bf16"
    assert reporter.of("precision")[0]["message"].startswith("precision: bf16 (asked for; CPU autocast")
    losses = [e["loss"] for e in reporter.of("log") if e["loss"] is not None]
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
    assert math.isfinite(result.metrics["train_loss"])
    assert TrainingResult.read(tmp_path / "out" / "result.json").environment["precision"] == "bf16"
    # autocast computes in bf16; the LoRA weights themselves stay fp32
    adapter = load_file(tmp_path / "out" / "final" / "adapter_model.safetensors")
    assert adapter and {t.dtype for t in adapter.values()} == {torch.float32}


@pytest.mark.skipif(torch.cuda.is_available(), reason="auto is fp32 on a CPU only")
def test_training_with_auto_on_a_cpu_records_fp32(llama_dir, tmp_path, monkeypatch):
    computed = _watch_compute_dtypes(monkeypatch)
    result, reporter = _train(tmp_path, llama_dir, "auto")
    assert computed == {torch.float32}
    assert (result.environment["precision"], result.environment["precision_reason"]) == ("fp32", CPU_AUTO_REASON)
    assert reporter.of("start")[0]["precision"] == "fp32"


@pytest.mark.skipif(torch.cuda.is_available(), reason="fp16 is refused on a CPU only")
def test_fp16_training_on_a_cpu_is_refused_before_the_model_loads(tmp_path):
    # no model directory at all: the refusal must come before anything loads
    with pytest.raises(PrecisionError, match="fp16 needs a CUDA GPU"):
        trainer.run(job(tmp_path, tmp_path / "no-model", "lora", precision="fp16"), CollectingReporter())


@pytest.mark.skipif(torch.cuda.is_available() or not HOST_HAS_BF16, reason="CPU bf16 autocast needs AMX/avx512_bf16")
def test_translation_in_bf16_records_it(llama_dir, tmp_path, monkeypatch):
    seen: set[torch.dtype] = set()
    real_load = generate.load

    def watched(job):
        loaded = real_load(job)
        loaded.model.lm_head.register_forward_hook(lambda _m, _i, out: seen.add(out.dtype))
        return loaded

    monkeypatch.setattr(generate, "load", watched)
    events: list[dict] = []
    generate.run_translation(
        translation_job(tmp_path, llama_dir, 3, tmp_path / "models", precision="bf16", prompt_template=TEMPLATE),
        events.append,
    )
    assert seen == {torch.bfloat16}  # generation ran under bf16 autocast
    start, done = events[0], events[-1]
    assert (start["event"], start["precision"]) == ("start", "bf16")
    assert (done["event"], done["precision"], done["total"]) == ("done", "bf16", 3)


@pytest.mark.skipif(torch.cuda.is_available(), reason="fp16 is refused on a CPU only")
def test_fp16_translation_on_a_cpu_is_refused_naming_the_method(llama_dir, tmp_path):
    with pytest.raises(TranslationError, match=r"^tiny:base: llm_tuning_configs\.precision: fp16 needs a CUDA GPU"):
        generate.run_translation(
            translation_job(tmp_path, llama_dir, 2, tmp_path / "models", precision="fp16", prompt_template=TEMPLATE),
            lambda event: None,
        )



@pytest.mark.parametrize(
    ("requested", "host", "refused"),
    [("bf16", CPU_BF16, False), ("bf16", CPU_PLAIN, True), ("fp16", CPU_BF16, True), ("bf16", T4, True),
     ("fp32", CPU_PLAIN, False)],
)
def test_refusal_says_why_or_nothing(requested, host, refused) -> None:
    from mt_assets.models.precision import refusal

    reason = refusal(requested, host)
    assert (reason is not None) == refused
    if refused:
        assert reason.startswith(f"llm_tuning_configs.precision: {requested} ")
