"""A tuning config with its split written straight into the database, for `fine_tuned_model` tests
that need their own training settings (the asset's inputs, without running tuning_configs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from mt_assets.db import urls
from mt_assets_tests.tiny_models import rows


def seed_config(
    db_url: str,
    name: str,
    model_dir: Path,
    settings: dict[str, Any],
    template: str | None = None,
    n: int = 20,
) -> None:
    """Config `name` over n tiny Arabic rows: every 10th is test, the one after it validation."""
    engine = create_engine(urls.sqlalchemy(db_url))
    with engine.begin() as conn:
        edition = conn.execute(
            text("insert into llm.dataset_editions (name, source_language) values (:n, 'ar') returning id"),
            {"n": f"{name}-rows"},
        ).scalar_one()
        config = conn.execute(
            text(
                "insert into llm.tuning_configs (name, llm_model, tuning_methodology, training_prompt_template, "
                "llm_tuning_configs, data, config_sha256) values (:name, :model, 'lora', :template, "
                "cast(:settings as jsonb), cast(:data as jsonb), :sha) returning id"
            ),
            {
                "name": name,
                "model": str(model_dir),
                "template": template,
                "settings": json.dumps(settings),
                # what the rows planted below are: a stored config is validated when it is read
                "data": json.dumps(
                    {
                        "editions": [f"{name}-rows"],
                        "source_languages": ["ar"],
                        "test_size": 0.1,
                        "validation_size": 0.1,
                    }
                ),
                "sha": "cd" * 32,
            },
        ).scalar_one()
        for i, row in enumerate(rows(n)):
            dataset_id = conn.execute(
                text(
                    "insert into llm.dataset (edition_id, source_text, official_translate, source_language, "
                    "source_reference, source_paragraph) values (:e, :s, :t, 'ar', :r, :p) returning id"
                ),
                {
                    "e": edition,
                    "s": row["source_text"],
                    "t": row["official_translate"],
                    "r": row["source_reference"],
                    "p": row["source_paragraph"],
                },
            ).scalar_one()
            split = "test" if i % 10 == 0 else "validation" if i % 10 == 1 else "train"
            conn.execute(
                text(
                    "insert into llm.tuning_dataset_distribution (tuning_config_id, dataset_record_id, split) "
                    "values (:c, :d, :split)"
                ),
                {"c": config, "d": dataset_id, "split": split},
            )
    engine.dispose()
