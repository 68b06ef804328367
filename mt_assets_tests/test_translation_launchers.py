"""Translation through the launcher interface: `python -m mt_assets.translation` as a local
subprocess (events forwarded as they arrive, stopped when the caller is interrupted, failures
explained) and on an SSH host (a real OpenSSH server on 127.0.0.1: job, rows, model and adapter
uploaded, events streamed back across a dropped connection, rows stored by the translations asset)."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg
import pytest
import torch

from mt_assets.assets.translation import translations
from mt_assets.db.connection import connect
from mt_assets.event_lines import parse_event
from mt_assets.launchers.base import TranslationFailed
from mt_assets.launchers.local import LocalLauncher
from mt_assets.launchers.ssh_translation import (
    RemoteTranslationLayout,
    run_remote_translation,
    translation_job_id,
)
from mt_assets.models.artefacts import directory_sha256
from mt_assets.remote.connection import Backoff
from mt_assets.remote.process import RemoteProcess
from mt_assets.remote.session import SSHSession
from mt_assets.resources import DatabaseResource
from mt_assets.translation.generate import run_translation
from mt_assets.translation.spec import TranslationJob
from mt_assets_tests.sshd import SSHServer, running_sshd
from mt_assets_tests.tiny_models import TEMPLATE, rows, tiny_llama, tiny_m2m100, translation_job

CODES = {"source_language_code": "arb_Arab", "target_language_code": "eng_Latn"}


@pytest.fixture(scope="module")
def m2m_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(1)  # an untrained model whose greedy output is words, not only special tokens
    return tiny_m2m100(tmp_path_factory.mktemp("tiny") / "m2m")


@pytest.fixture(scope="module")
def sshd_server() -> Iterator[SSHServer]:
    with running_sshd() as server:
        yield server


def _job(tmp_path: Path, model: Path | str, n: int, **fields) -> TranslationJob:
    work = tmp_path / f"work-{uuid.uuid4().hex[:6]}"
    work.mkdir()
    return translation_job(work, model, n, tmp_path / "models", **fields)


def _texts(events: list[dict]) -> dict[int, str]:
    return {e["tuning_dataset_distribution_id"]: e["translated_text"] for e in events if e["event"] == "translation"}


def _running(marker: str) -> list[int]:
    """Processes whose command line mentions `marker` (the job's unique path)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def test_local_launcher_translates_in_a_subprocess_event_by_event(tmp_path, m2m_dir):
    job = _job(tmp_path, m2m_dir, 5, batch_size=2, **CODES)
    events: list[dict] = []

    def on_event(event: dict) -> None:
        events.append(event)

    LocalLauncher().translate(dg.build_asset_context(), job, on_event)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and kinds.count("translation") == 5
    assert kinds.count("progress") == 3  # one per batch of 2, in between the rows
    in_process: list[dict] = []
    run_translation(job, in_process.append)
    assert _texts(events) == _texts(in_process)  # the same outputs as generating here


def test_an_error_in_the_subprocess_fails_with_its_message(tmp_path):
    job = _job(tmp_path, tmp_path / "no-such-model", 2)
    forwarded: list[dict] = []
    with pytest.raises(TranslationFailed, match=r"translation tiny:base failed: .*no such directory") as info:
        LocalLauncher().translate(dg.build_asset_context(), job, forwarded.append)
    assert str(tmp_path / "no-such-model") in str(info.value)
    assert [e["event"] for e in forwarded] == ["error"]


def test_a_crash_without_an_error_event_fails_with_the_stderr_tail(tmp_path):
    crashing = tmp_path / "python"
    crashing.write_text("#!/bin/sh\necho 'Fatal Python error: Segmentation fault' >&2\nexit 139\n")
    crashing.chmod(0o755)
    job = _job(tmp_path, tmp_path, 1)
    with pytest.raises(TranslationFailed, match=r"exit status 139; last lines of stderr:\nFatal Python error"):
        LocalLauncher(python=str(crashing)).translate(dg.build_asset_context(), job, lambda event: None)


def test_an_interrupt_stops_the_translating_process(tmp_path):
    model = tiny_llama(tmp_path / "llama")
    # enough work (one row at a time, long outputs) that the process is far from done when interrupted
    job = _job(tmp_path, model, 40, batch_size=1, max_new_tokens=64, prompt_template=TEMPLATE)
    marker = str(job.input_file.parent / "job.json")

    def terminated_from_the_ui(event: dict) -> None:
        if event["event"] == "translation":
            assert _running(marker), "the process was not running when its first row arrived"
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        LocalLauncher().translate(dg.build_asset_context(), job, terminated_from_the_ui)
    assert _running(marker) == []



def _seed_config(db_url: str, name: str, model_dir: Path, adapter: Path, tests: int) -> None:
    settings = {
        "languages": {"source": "arb_Arab", "target": "eng_Latn"},
        "generation": {"num_beams": 1, "max_new_tokens": 6},
        "lora_config": {"r": 4, "target_modules": ["q_proj", "v_proj"]},
    }
    data = {"editions": ["ed"], "source_languages": ["ar"], "test_size": 0.5}
    with connect(db_url, autocommit=True) as conn:
        config_id = conn.execute(
            "insert into llm.tuning_configs (name, llm_model, tuning_methodology, llm_tuning_configs, data, "
            "config_sha256) values (%s, %s, 'lora', %s, %s, 'sha-1') returning id",
            (name, str(model_dir), json.dumps(settings), json.dumps(data)),
        ).fetchone()[0]
        conn.execute(
            "insert into llm.fine_tuned_models (tuning_config_id, status, config_sha256, llm_model, "
            "pretrained_model_dir_path, artefact_sha256) values (%s, 'succeeded', 'sha-1', %s, %s, %s)",
            (config_id, str(model_dir), str(adapter), directory_sha256(adapter)[1]),
        )
        edition = conn.execute(
            "insert into llm.dataset_editions (name, source_language, file_sha256) values ('ed', 'ar', 'e') "
            "returning id"
        ).fetchone()[0]
        for i, row in enumerate(rows(tests, seed=21)):
            dataset_id = conn.execute(
                "insert into llm.dataset (edition_id, source_text, official_translate, source_language, "
                "source_reference) values (%s, %s, %s, 'ar', %s) returning id",
                (edition, f"{row['source_text']} {i}", row["official_translate"], str(i)),
            ).fetchone()[0]
            conn.execute(
                "insert into llm.tuning_dataset_distribution (tuning_config_id, dataset_record_id, split) "
                "values (%s, %s, 'test')",
                (config_id, dataset_id),
            )


def _untrained_adapter(model_dir: Path, path: Path) -> Path:
    """A real PEFT LoRA adapter (freshly initialised, so it leaves the outputs as the base's)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForSeq2SeqLM

    model = AutoModelForSeq2SeqLM.from_pretrained(model_dir)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="SEQ_2_SEQ_LM")
    get_peft_model(model, config).save_pretrained(path)
    return path


@pytest.mark.slow  # two translation processes (torch + transformers start-ups) behind sshd
def test_translations_asset_over_ssh_stores_every_row(
    pg_dagster_instance, mt_env, db_url, tmp_path, m2m_dir, sshd_server, monkeypatch
):
    secret = "hf_" + uuid.uuid4().hex
    monkeypatch.setenv("HF_TOKEN", secret)
    adapter = _untrained_adapter(m2m_dir, tmp_path / "adapter")
    _seed_config(db_url, "tiny-ssh", m2m_dir, adapter, tests=6)
    pg_dagster_instance.add_dynamic_partitions("tuning_configs", ["tiny-ssh"])
    resources = {"database": DatabaseResource(url=db_url), "launcher": sshd_server.launcher()}
    result = dg.materialize(
        [translations], instance=pg_dagster_instance, resources=resources, partition_key="tiny-ssh"
    )
    assert result.success
    with psycopg.connect(db_url) as conn:
        stored = conn.execute(
            "select m.name, t.tuning_dataset_distribution_id, t.translated_text, t.latency_ms "
            "from llm.translation t join llm.translation_method m on m.id = t.translation_method_id "
            "where m.kind <> 'baseline'"  # the floors are computed here, not on the host
        ).fetchall()
        floors = conn.execute(
            "select count(*) from llm.translation t join llm.translation_method m on m.id = t.translation_method_id "
            "where m.kind = 'baseline'"
        ).fetchone()[0]
    assert floors == 3 * 6  # the three floors, also for a config with no train rows
    by_method: dict[str, dict[int, str]] = {}
    for method, row_id, text, latency in stored:
        by_method.setdefault(method, {})[row_id] = text
        assert latency is not None and latency > 0
    assert sorted(by_method) == ["tiny-ssh:base", "tiny-ssh:fine-tuned"]
    assert all(len(texts) == 6 for texts in by_method.values())
    # a freshly initialised LoRA adapter changes nothing: both methods agree row by row
    assert by_method["tiny-ssh:base"] == by_method["tiny-ssh:fine-tuned"]

    remote = sshd_server.dir / "remote"
    jobs = sorted((remote / "translations").iterdir())
    assert len(jobs) == 2
    uploaded = sorted((remote / "uploads").iterdir())
    assert len(uploaded) == 2  # the model directory (once, shared by both methods) and the adapter
    assert any((d / "adapter_config.json").is_file() for d in uploaded)
    for path in [p for d in jobs + uploaded for p in d.rglob("*")]:
        assert oct(path.stat().st_mode & 0o777) == ("0o700" if path.is_dir() else "0o600"), path
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    messages = " ".join(e.message or "" for e in pg_dagster_instance.all_logs(result.run_id))
    assert "tiny-ssh:base: 6/6" in messages and secret not in messages

    again = dg.materialize(
        [translations], instance=pg_dagster_instance, resources=resources, partition_key="tiny-ssh"
    )
    assert again.asset_materializations_for_node("translations")[0].metadata["translated_now"].value == 0


def test_remote_translation_streams_across_a_dropped_connection(tmp_path, m2m_dir, sshd_server):
    job = _job(tmp_path, m2m_dir, 6, batch_size=1, **CODES)
    lines: list[str] = []
    reconnects: list[str] = []
    with SSHSession(
        sshd_server.target(), backoff=Backoff(attempts=4, initial=0.05),
        on_reconnect=lambda n, why: reconnects.append(why),
    ) as session:

        def on_line(line: str) -> None:
            lines.append(line)
            if len(lines) == 2:
                session.client.get_transport().close()  # the network drops while rows stream in

        outcome = run_remote_translation(session, job, wheel_cache_dir=tmp_path, on_line=on_line,
                                         python=sys.executable, poll_interval=0.1)
        layout = RemoteTranslationLayout.for_job(session, translation_job_id(job))
        assert RemoteProcess(session, layout.dir).status().succeeded
    assert outcome.status.succeeded and not outcome.cancelled and reconnects
    events = [e for e in map(parse_event, lines) if e]
    ids = [e["tuning_dataset_distribution_id"] for e in events if e["event"] == "translation"]
    assert sorted(ids) == [1, 2, 3, 4, 5, 6]  # each row exactly once
    assert events[-1]["event"] == "done"
    local: list[dict] = []
    run_translation(job, local.append)
    assert _texts(events) == _texts(local)


def test_remote_translation_error_fails_with_its_message(tmp_path, sshd_server):
    job = _job(tmp_path, tmp_path / "not-on-the-host", 2)
    with pytest.raises(TranslationFailed, match=r"on 127\.0\.0\.1 failed: .*not-on-the-host.*no such directory"):
        sshd_server.launcher().translate(dg.build_asset_context(), job, lambda event: None)
