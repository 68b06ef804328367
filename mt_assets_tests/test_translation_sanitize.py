"""Model output is untrusted input: the sanitizing rule as a pure function, and a real model that
emits a NUL and an escape byte driven through the `translations` asset into PostgreSQL (the text
stored without them, the row flagged, the count in the metadata), where the config's data also
decides the stop rule: a multi-line reference keeps the output's newline, none cuts at it."""

from pathlib import Path

import dagster as dg
import pytest

from mt_assets.assets.translation import translations
from mt_assets.assets.tuning import tuning_configs, tuning_dataset_distribution
from mt_assets.db.connection import connect
from mt_assets.launchers.local import LocalLauncher
from mt_assets.resources import DatabaseResource
from mt_assets.translation.methods import BASE, ensure_config_execution
from mt_assets.translation.sanitize import sanitize
from mt_assets.translation.store import TranslationWriter
from mt_assets_tests.tiny_models import rows, scripted_llama


@pytest.mark.parametrize(
    ("generated", "stored", "note"),
    [
        ("plain text", "plain text", None),
        ("tab\tand\nnewline", "tab\tand\nnewline", None),
        ("nul\x00here\x00", "nulhere", "removed U+0000 x2"),
        ("bell\x07 esc\x1b[0m del\x7f", "bell esc[0m del", "removed U+0007 x1, U+001B x1, U+007F x1"),
        ("crlf\r\nline", "crlf\nline", "removed U+000D x1"),
        ("c1\x85\x9f", "c1", "removed U+0085 x1, U+009F x1"),
        ("lone \ud800 and \udfff", "lone \ufffd and \ufffd", "replaced U+D800 x1, U+DFFF x1 with U+FFFD"),
        ("\x00\ud83d", "\ufffd", "removed U+0000 x1; replaced U+D83D x1 with U+FFFD"),
        ("نیم\u200cفاصله \u200f", "نیم\u200cفاصله \u200f", None),  # format characters (ZWNJ, RLM) stay
        ("", "", None),
    ],
)
def test_sanitize_removes_controls_and_replaces_surrogates(generated, stored, note):
    assert sanitize(generated) == (stored, note)
    assert sanitize(stored) == (stored, None)  # idempotent: stored text passes unchanged


CONFIG = "tiny-bytes-ar-en"
YAML = """\
name: {name}
llm_model: {model}
tuning_methodology: lora
training_prompt_template: "Translate $source_language to $target_language: $source_text ->"
data: {{editions: [tiny-ar-en], source_languages: [ar], test_size: 0.3, validation_size: 0.1, seed: 13}}
llm_tuning_configs:
  lora_config: {{r: 4, lora_alpha: 8, target_modules: [q_proj, v_proj]}}
  generation: {{num_beams: 1, max_new_tokens: 12, few_shot: 0}}
"""
GENERATED = "A\x00B\x1b\nC"  # the scripted model's output after every prompt (then EOS)
NOTE = "removed U+0000 x1, U+001B x1"


def _seed(db_url: str, n: int) -> None:
    """n rows; the first reference spans two lines (CSV and JSONL allow it)."""
    with connect(db_url, autocommit=True) as conn:
        edition = conn.execute(
            "insert into llm.dataset_editions (name, source_language, target_language, file_sha256) "
            "values ('tiny-ar-en', 'ar', 'en', 'sha-tiny') returning id"
        ).fetchone()[0]
        with conn.cursor() as cur:
            cur.executemany(
                "insert into llm.dataset (edition_id, source_text, official_translate, source_language, "
                "source_reference) values (%s, %s, %s, 'ar', %s)",
                [
                    (edition, f"{r['source_text']} {i}", r["official_translate"] + ("\nsecond line" if i == 0 else ""),
                     r["source_reference"])
                    for i, r in enumerate(rows(n, seed=5))
                ],
            )


def _stored(db_url: str) -> list[tuple[str, str | None]]:
    with connect(db_url) as conn:
        return conn.execute(
            "select t.translated_text, t.sanitized from llm.translation t "
            "join llm.translation_method m on m.id = t.translation_method_id where m.kind = %s order by t.id",
            (BASE,),
        ).fetchall()


def _metadata(result: dg.ExecuteInProcessResult) -> dict:
    return {k: v.value for k, v in result.asset_materializations_for_node("translations")[0].metadata.items()}


def test_control_bytes_a_model_emits_are_removed_flagged_and_counted(
    pg_dagster_instance, mt_env, db_url, tmp_path
):
    model_dir = scripted_llama(tmp_path / "scripted", GENERATED)
    Path(mt_env["MT_CONFIG_DIR"], f"{CONFIG}.yaml").write_text(YAML.format(name=CONFIG, model=model_dir))
    _seed(db_url, 16)
    resources = {"database": DatabaseResource(url=db_url), "launcher": LocalLauncher(poll_seconds=0.1)}

    def run(assets, partition=CONFIG):
        return dg.materialize(assets, instance=pg_dagster_instance, resources=resources, partition_key=partition)

    run([tuning_configs], partition=None)
    run([tuning_dataset_distribution])
    multi_line = _stored_after(run([translations]), db_url)
    # a reference spans lines: the output keeps its newline and what follows it
    assert multi_line == ["AB\nC"] * len(multi_line) and len(multi_line) >= 4

    # No reference spans lines any more: the stop rule changes, the method's old translations are
    # dropped, and every row is translated again and cut at its first newline.
    with connect(db_url, autocommit=True) as conn:
        conn.execute("update llm.dataset set official_translate = replace(official_translate, E'\\n', ' ')")
    assert _stored_after(run([translations]), db_url) == ["AB"] * len(multi_line)

    # Text no tokenizer decodes to but an event line can carry (a JSON "\\ud800" escape) is stored too.
    with connect(db_url, autocommit=True) as conn:
        execution = ensure_config_execution(conn, CONFIG)
        method = execution.methods[0]  # the base; the floors follow it
        row_id = conn.execute(
            "delete from llm.translation where id = (select min(id) from llm.translation "
            "where translation_method_id = %s) returning tuning_dataset_distribution_id",
            (method.id,),
        ).fetchone()[0]
        writer = TranslationWriter(conn, method.id, execution.id)
        writer.add({"tuning_dataset_distribution_id": row_id, "translated_text": "x\ud800y\x00"})
        writer.flush()
    assert (writer.written, writer.sanitized) == (1, 1)
    assert ("x\ufffdy", "removed U+0000 x1; replaced U+D800 x1 with U+FFFD") in _stored(db_url)


def _stored_after(result: dg.ExecuteInProcessResult, db_url: str) -> list[str]:
    """The base method's stored texts, after checking every row is flagged and counted."""
    stored = _stored(db_url)
    metadata = _metadata(result)
    assert [note for _, note in stored] == [NOTE] * len(stored)
    # only the model's rows are sanitized; the floors (translated once, from clean train rows) are not
    assert metadata["sanitized_now"] == len(stored)
    assert f"| {CONFIG}:base | base | {len(stored)} | 0 | {len(stored)} | {len(stored)} |" in metadata["methods"]
    return [text for text, _ in stored]
