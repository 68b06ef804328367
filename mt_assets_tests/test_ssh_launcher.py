"""`fine_tuned_model` through the SSHLauncher against a real OpenSSH server on 127.0.0.1
(the "remote" is this machine): the model is registered as a local run would register it,
events reach the run log and llm.training_logs, and the forwarded secret reaches neither."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import dagster as dg
import psycopg
import pytest

from mt_assets.assets.training import fine_tuned_model
from mt_assets.launchers.ssh import SSHLauncher
from mt_assets.resources import DatabaseResource
from mt_assets_tests.sshd import SSHServer, running_sshd
from mt_assets_tests.test_training_asset import CONFIG, _seed
from mt_assets_tests.tiny_models import tiny_m2m100


@pytest.fixture(scope="module")
def sshd_server() -> Iterator[SSHServer]:
    with running_sshd() as server:
        yield server



@pytest.mark.slow  # a trainer start-up (torch + transformers) behind sshd
def test_fine_tuned_model_over_ssh(pg_dagster_instance, mt_env, db_url, tmp_path, sshd_server, monkeypatch):
    secret = "hf_" + uuid.uuid4().hex
    monkeypatch.setenv("HF_TOKEN", secret)
    _seed(db_url, tiny_m2m100(tmp_path / "tiny-m2m"))
    pg_dagster_instance.add_dynamic_partitions("tuning_configs", [CONFIG])
    result = dg.materialize(
        [fine_tuned_model],
        instance=pg_dagster_instance,
        resources={"database": DatabaseResource(url=db_url), "launcher": sshd_server.launcher()},
        partition_key=CONFIG,
    )
    assert result.success
    with psycopg.connect(db_url) as conn:
        status, path, sha = conn.execute(
            "select status, pretrained_model_dir_path, artefact_sha256 from llm.fine_tuned_models"
        ).fetchone()
        logs = conn.execute("select count(*) from llm.training_logs").fetchone()[0]
        everything = conn.execute(
            "select string_agg(t::text, ' ') from (select * from llm.fine_tuned_models) t"
        ).fetchone()[0] + conn.execute("select string_agg(logs::text, ' ') from llm.training_logs").fetchone()[0]
    assert status == "succeeded" and sha and path.startswith(mt_env["MT_HOME"])
    assert logs >= 1
    assert secret not in everything
    events = pg_dagster_instance.all_logs(result.run_id)
    messages = " ".join(e.message or "" for e in events)
    assert '"event": "log"' in messages or '"event":"log"' in messages
    assert secret not in messages and secret not in str(result.asset_materializations_for_node("fine_tuned_model"))


def test_unknown_host_key_is_refused_before_anything_runs(pg_dagster_instance, mt_env, db_url, tmp_path, sshd_server):
    empty_known_hosts = tmp_path / "known_hosts"
    empty_known_hosts.write_text("")
    _seed(db_url, tiny_m2m100(tmp_path / "tiny-m2m"))
    pg_dagster_instance.add_dynamic_partitions("tuning_configs", [CONFIG])
    result = dg.materialize(
        [fine_tuned_model],
        instance=pg_dagster_instance,
        resources={"database": DatabaseResource(url=db_url),
                   "launcher": sshd_server.launcher(known_hosts=str(empty_known_hosts))},
        partition_key=CONFIG,
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert sshd_server.fingerprint in str(failure.event_specific_data.error)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("select status from llm.fine_tuned_models").fetchall() == [("failed",)]


def test_launcher_from_environment_keeps_secrets_as_env_vars():
    launcher = SSHLauncher.from_env({"MT_SSH_HOST": "h", "MT_SSH_USER": "u", "MT_SSH_PORT": "2222",
                                     "MT_SSH_PASSWORD": "pw"})
    assert launcher.port == 2222
    assert isinstance(launcher.password, dg.EnvVar) and isinstance(launcher.host, dg.EnvVar)
    with pytest.raises(ValueError, match="MT_SSH_HOST"):
        SSHLauncher.from_env({"MT_SSH_USER": "u"})
