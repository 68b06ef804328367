"""Smoke tests of the benches' `--arms precision` (issue 16 item 3), run as a user runs them.

Each bench runs as a script on a tiny model with few rows or steps: its table must name both arms (or
say why bf16 was skipped on this host) and carry numbers in its quality columns (chrF++ for
translation, the losses for training) and the verdict line. No assertion on speed: a tiny model on
a busy CI machine measures nothing about Gemma.
"""

from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path

import pytest
import torch

from mt_assets.models import precision
from mt_assets_tests import tiny_models

ROOT = Path(__file__).resolve().parent.parent
NUMBER = r"-?\d+(?:\.\d+)?"


def _bf16_here() -> bool:
    return precision.refusal("bf16") is None


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *args: str) -> str:
    """The bench's own command line, its parent in this process (torch is imported already: seconds
    saved) and each arm in the subprocess the bench starts itself, as for a user."""
    monkeypatch.setenv("MT_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(sys, "argv", [args[0], *args[1:]])
    # A bench's main() turns autograd off for its whole process; here that process is the test
    # worker, whose later tests train: the context puts the grad mode back when the bench returns.
    with torch.enable_grad(), pytest.raises(SystemExit) as exit_:
        runpy.run_path(str(ROOT / args[0]), run_name="__main__")
    assert torch.is_grad_enabled()
    stdout, stderr = capsys.readouterr()
    assert exit_.value.code == 0, f"exit {exit_.value.code}\n{stdout}\n{stderr[-3000:]}"
    return stdout


def _arm_rows(stdout: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split() for line in stdout.splitlines() if line.split()[:1] in (["fp32"], ["bf16"])}


def _check_arms(stdout: str) -> dict[str, list[str]]:
    rows = _arm_rows(stdout)
    assert "fp32" in rows, stdout
    if _bf16_here():
        assert "bf16" in rows, stdout
        assert re.search(r"^verdict: (MET|MISSED): ", stdout, re.M), stdout
    else:
        assert "bf16" not in rows and "bf16: skipped on this host: " in stdout, stdout
    return rows


def test_translate_precision_arms(tmp_path: Path, monkeypatch, capsys) -> None:
    model = tiny_models.tiny_gemma3(tmp_path / "gemma")
    stdout = _run(
        tmp_path, monkeypatch, capsys, "bench/translate_throughput.py", "--arms", "precision", "--model", str(model),
        "--verses", "10", "--few-shot", "1", "--max-new-tokens", "6", "--batch-size", "10", "--warmup-rows", "1",
    )
    column = 5  # arm, seconds, sentences/s, gen tokens/s, peak RSS MB, chrF++, diff, p, differ from fp32
    for arm, cells in _check_arms(stdout).items():
        assert re.fullmatch(NUMBER, cells[column]), f"{arm}: chrF++ {cells[column]!r}\n{stdout}"
        assert re.fullmatch(r"\d+/10", cells[-1]), f"{arm}: rows differing {cells[-1]!r}\n{stdout}"
    if _bf16_here():
        bf16 = _arm_rows(stdout)["bf16"]
        # the difference to fp32 and its paired-bootstrap p-value (10 verses: the test's minimum)
        assert re.fullmatch(r"[+-]\d+\.\d\d", bf16[column + 1]) and re.fullmatch(r"\d\.\d{3}", bf16[column + 2]), stdout
        assert re.search(rf"^ratio bf16/fp32 \(sentences/s\): {NUMBER}x", stdout, re.M), stdout


def test_train_precision_arms(tmp_path: Path, monkeypatch, capsys) -> None:
    stdout = _run(
        tmp_path, monkeypatch, capsys, "bench/train_throughput.py", "--arms", "precision", "--methodology", "lora",
        "--rows", "16", "--steps", "2", "--batch-size", "4", "--peak-seconds", "0.1",
    )
    assert re.search(rf"^matmul peak .*fp32 {NUMBER} GFLOP/s, bf16 {NUMBER} GFLOP/s", stdout, re.M), stdout
    for arm, cells in _check_arms(stdout).items():
        assert cells[1] == "2", f"{arm} trained {cells[1]} steps, asked for 2\n{stdout}"
        # loss@1, final loss, mean loss: finite numbers; MFU columns end in %
        for loss in cells[5:8]:
            assert re.fullmatch(r"\d+\.\d{4}", loss), f"{arm}: loss {loss!r}\n{stdout}"
        assert cells[10].endswith("%") and cells[11].endswith("%"), stdout
