"""The product as a user meets it: `mt-assets demo` runs the whole graph through a real
Postgres-backed Dagster instance (here with a tiny model instead of Gemma, on the real Quran
sample), then a real `dagster dev` serves the project, a materialization launched through its
GraphQL API succeeds, and headless Chromium finds the leaderboard table on the asset's page."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.common.exceptions import ElementClickInterceptedException

from mt_assets_tests.cli_home import cli, quran_home
from mt_assets_tests.dagster_ui import chromium, dagster_dev
from mt_assets_tests.tiny_models import tiny_m2m100

CONFIG = "tiny-demo-ar-en"


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    model = tiny_m2m100(tmp_path_factory.mktemp("tiny") / "m2m100")
    with quran_home("mt-e2e-", (CONFIG,), model, "the end-to-end test") as env:
        yield env


@pytest.fixture(scope="module")
def demo_run(demo_env: dict[str, str]) -> subprocess.CompletedProcess:
    return cli("demo", "--configs", CONFIG, env=demo_env)


def test_demo_runs_the_whole_graph_and_prints_the_leaderboard(demo_run, demo_env):
    assert demo_run.returncode == 0, demo_run.stderr[-4000:]
    for stage in ("starting PostgreSQL", "step 1/3: prepare_data", f"step 2/3: experiment [{CONFIG}]",
                  "step 3/3: refresh_leaderboard", "Leaderboard:"):
        assert stage in demo_run.stderr
    table = demo_run.stdout
    assert CONFIG in table and "chrF++" in table and "BLEU" in table and "TER" in table
    assert "mt-assets dev" in table

    url = cli("db", "url", env=demo_env).stdout.strip()
    counts = subprocess.run(
        ["psql", url, "-Atc",
         "select (select count(*) from llm.dataset), (select count(*) from llm.fine_tuned_models where status='succeeded'),"
         " (select count(*) from llm.translation), (select count(*) from llm.evaluation),"
         " (select count(*) from runs)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip().split("|")
    dataset, models, translations, scores, runs = map(int, counts)
    assert dataset == 2 * 6236 and models == 1 and translations > 0 and scores > 0
    assert runs == 3, "the demo's runs live in the Postgres-backed Dagster instance"


def test_ui_launches_a_run_and_shows_the_leaderboard(demo_run, demo_env, tmp_path):
    assert demo_run.returncode == 0, "the demo must have filled the database first"
    exported = cli("env", env=demo_env)
    assert exported.returncode == 0, exported.stderr
    env = dict(demo_env)
    for line in exported.stdout.splitlines():
        key, value = line.removeprefix("export ").split("=", 1)
        env[key] = value.strip("'")
    workdir = Path(env["MT_HOME"])
    with dagster_dev(env, workdir) as server:
        run_id = server.launch([["leaderboard"]])
        assert server.wait(run_id) == "SUCCESS", server.log.read_text()[-3000:]
        with chromium() as browser:
            browser.get(f"{server.base}/assets/leaderboard")
            deadline = time.monotonic() + 90
            table = None
            while time.monotonic() < deadline and table is None:
                for button in browser.find_elements("xpath", "//button[normalize-space()='Skip']"):
                    button.click()  # the first-visit newsletter dialog covers the page
                for candidate in browser.find_elements("css selector", "table"):
                    text = candidate.text
                    if CONFIG in text and "chrF++" in text:
                        table = candidate
                        break
                if table is None:
                    # a long markdown value is collapsed behind a link that opens it in a dialog
                    for link in browser.find_elements(
                        "xpath", "//tr[td[normalize-space()='leaderboard']]//*[contains(text(), 'Show Markdown')]"
                    ):
                        try:
                            link.click()
                        except ElementClickInterceptedException:
                            pass  # a dialog is still fading out: the next pass clicks again
                        break
                time.sleep(1)
            shot = Path(os.environ.get("MT_TEST_SCREENSHOTS", tmp_path)) / "leaderboard.png"
            shot.parent.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(shot))
            assert table is not None, f"no leaderboard table on the asset page; screenshot: {shot}"
            assert shot.read_bytes().startswith(b"\x89PNG")
            # The deciding columns come first and are on screen at 1500 px, not cut off behind a path.
            headers = table.find_elements("css selector", "th")
            assert [h.text for h in headers[:5]] == [
                "method", "meaning margin (chrF++)", "chrF++", "Δ vs base (p, humans agree)", "flags"
            ], f"screenshot: {shot}"
            width = browser.execute_script("return document.documentElement.clientWidth")
            for header in headers[:5]:
                right = header.rect["x"] + header.rect["width"]
                assert header.is_displayed() and right <= width, f"{header.text!r} ends at {right} of {width} px: {shot}"
