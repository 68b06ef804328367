"""COMET is optional: without unbabel-comet and a local checkpoint (MT_COMET_MODEL) the evaluation
says, in one log line, why it is skipped; the schema accepts the `comet` metric name and still
refuses misspellings."""

from __future__ import annotations

import dagster as dg
import psycopg
import pytest

from mt_assets.assets.evaluation import evaluation
from mt_assets.evaluation import comet
from mt_assets.resources import DatabaseResource
from mt_assets_tests.test_evaluation_assets import _planted


def test_skip_reasons_name_what_is_missing(tmp_path):
    assert comet.comet_setup({}).message == (
        "COMET skipped: MT_COMET_MODEL is not set (a local directory holding a COMET checkpoint)"
    )
    missing = tmp_path / "no-checkpoint"
    assert comet.comet_setup({"MT_COMET_MODEL": str(missing)}).message == (
        f"COMET skipped: MT_COMET_MODEL={missing} is not a directory"
    )
    setup = comet.comet_setup({"MT_COMET_MODEL": str(tmp_path)})
    # unbabel-comet is not a dependency of this project (and never installed by its tests)
    assert setup.model_dir is None
    assert setup.message == "COMET skipped: unbabel-comet is not installed (pip install unbabel-comet)"


def test_evaluation_logs_one_comet_line(db_url, monkeypatch):
    monkeypatch.delenv("MT_COMET_MODEL", raising=False)
    _planted(db_url, "planted", 12)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tuning_configs", ["planted"])
    # The planted fine-tuned outputs fail the (blocking) gate; this test is about COMET, so it
    # takes the documented override.
    result = dg.materialize(
        [evaluation],
        instance=instance,
        resources={"database": DatabaseResource(url=db_url)},
        partition_key="planted",
        run_config={"ops": {"evaluation": {"config": {"gate_severity": "WARN"}}}},
    )
    lines = [e.message for e in instance.all_logs(result.run_id) if "COMET" in (e.message or "")]
    assert lines == ["COMET skipped: MT_COMET_MODEL is not set (a local directory holding a COMET checkpoint)"]
    with psycopg.connect(db_url) as conn:
        metrics = {m for (m,) in conn.execute("select distinct metric from llm.evaluation")}
    # nothing recorded for a metric that did not run (METEOR runs: scripts/test installs WordNet)
    assert metrics == {"bleu", "chrf++", "ter", "meteor"}


def test_schema_accepts_comet_and_refuses_misspellings(db_url):
    _planted(db_url, "planted", 1)
    with psycopg.connect(db_url) as conn:
        method, execution = conn.execute(
            "select translation_method_id, translation_execution_id from llm.translation_execution_models limit 1"
        ).fetchone()
        insert = (
            "insert into llm.evaluation (translation_method_id, translation_execution_id, scope, metric, score, "
            "signature, segments) values (%s, %s, 'all', %s, 0.8, 'comet|model:wmt22-comet-da', 1)"
        )
        conn.execute(insert, (method, execution, comet.METRIC))
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(insert, (method, execution, "COMET-22"))
