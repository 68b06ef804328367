"""The product as a user meets it: `mt-assets demo` runs the whole graph through a real
Postgres-backed Dagster instance (here with a tiny model instead of Gemma, on the real Quran
sample), then a real `dagster dev` serves the project, a materialization launched through its
GraphQL API succeeds, and headless Chromium finds the leaderboard table on the asset's page."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mt_assets_tests.dagster_ui import chromium, dagster_dev
from mt_assets_tests.sshd import SSHServer, running_sshd
from mt_assets_tests.tiny_models import tiny_m2m100

CONFIG = "tiny-demo-ar-en"
YAML = """\
name: {name}
description: a tiny seq2seq model on the real Quran sample, for the end-to-end test
llm_model: {model}
tuning_methodology: lora
data:
  editions: [quran-ar-en]
  source_languages: [ar]
  test_size: 0.004
  validation_size: 0.001
  max_source_chars: 120
  max_train_rows: 16
llm_tuning_configs:
  languages: {{source: arb_Arab, target: eng_Latn}}
  training_args: {{max_steps: 2, save_steps: 2, logging_steps: 1, per_device_train_batch_size: 4, eval_strategy: "no"}}
  lora_config: {{r: 4, lora_alpha: 8, target_modules: [q_proj, v_proj]}}
  generation: {{num_beams: 1, max_new_tokens: 8}}
"""


def _cli(*args: str, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mt_assets.cli", *args],
        env=env, capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    home = Path(tempfile.mkdtemp(prefix="mt-e2e-", dir="/tmp"))
    home.chmod(0o755)  # the embedded server's own user must be able to enter it
    configs = home / "configs"
    configs.mkdir()
    model = tiny_m2m100(tmp_path_factory.mktemp("tiny") / "m2m100")
    (configs / f"{CONFIG}.yaml").write_text(YAML.format(name=CONFIG, model=model))
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MT_", "DAGSTER_"))}
    env = {**clean, "MT_HOME": str(home / "state"), "MT_CONFIG_DIR": str(configs), "MT_RAW_DIR": str(home / "raw"),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    try:
        yield env
    finally:
        _cli("db", "stop", env=env)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def demo_run(demo_env: dict[str, str]) -> subprocess.CompletedProcess:
    return _cli("demo", "--configs", CONFIG, env=demo_env)


def test_demo_runs_the_whole_graph_and_prints_the_leaderboard(demo_run, demo_env):
    assert demo_run.returncode == 0, demo_run.stderr[-4000:]
    for stage in ("starting PostgreSQL", "step 1/3: prepare_data", f"step 2/3: experiment [{CONFIG}]",
                  "step 3/3: refresh_leaderboard", "Leaderboard:"):
        assert stage in demo_run.stderr
    table = demo_run.stdout
    assert CONFIG in table and "chrF++" in table and "BLEU" in table and "TER" in table
    assert "mt-assets dev" in table

    url = _cli("db", "url", env=demo_env).stdout.strip()
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
    exported = _cli("env", env=demo_env)
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
            time.sleep(3)
            for button in browser.find_elements("xpath", "//button[normalize-space()='Skip']"):
                button.click()  # the first-visit newsletter dialog covers the page
            deadline = time.monotonic() + 90
            table = None
            while time.monotonic() < deadline and table is None:
                for candidate in browser.find_elements("css selector", "table"):
                    text = candidate.text
                    if CONFIG in text and "chrF++" in text:
                        table = candidate
                        break
                time.sleep(1)
            shot = Path(os.environ.get("MT_TEST_SCREENSHOTS", tmp_path)) / "leaderboard.png"
            shot.parent.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(shot))
            assert table is not None, f"no leaderboard table on the asset page; screenshot: {shot}"
            assert shot.read_bytes().startswith(b"\x89PNG")


README = Path(__file__).resolve().parent.parent / "README.md"
# The one block not run here, named by its first line: its two commands are the test command
# CI runs (.ci/run execs scripts/test) and the Gemma demo (~20 minutes on 2 cores, run by hand for
# the README's figures; the same `mt-assets demo` runs above with a tiny config).
NOT_RUN_BLOCKS = {"scripts/demo"}
# Lines the script leaves out: a server that runs until Ctrl-C (test_ui_... starts it).
NOT_RUN_LINES = ("dagster dev -m mt_assets",)
SECRET = "hf_readme_marker_7f3c"
SSH_CONFIG = "tiny-ssh-ar-en"


def readme_shell_blocks() -> list[str]:
    blocks, current = [], None
    for line in README.read_text(encoding="utf-8").splitlines():
        if current is None and line.strip() == "```bash":
            current = []
        elif current is not None and line.strip() == "```":
            blocks.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def readme_script(ssh: SSHServer) -> str:
    """Every README shell block after the quickstart, in order, as one shell session, with the
    placeholders a user fills in filled in: this sshd, this interpreter, and for CONFIG the demo's
    config, except in the SSH and translate blocks, which get SSH_CONFIG (not trained yet, so it
    trains and translates on the sshd host). The NLLB block gets the demo's config: NLLB needs the hub."""
    lines = []
    for block in readme_shell_blocks():
        first = block.splitlines()[0]
        if first.split()[0] in NOT_RUN_BLOCKS:
            continue
        remote = first.startswith("export MT_LAUNCHER=ssh") or "--select translations,evaluation" in first
        block = block.replace("--partition CONFIG", f"--partition {SSH_CONFIG if remote else CONFIG}")
        lines += [line for line in block.splitlines() if not line.startswith(NOT_RUN_LINES)]
    script = "\n".join(lines)
    substitutions = {
        "source .venv/bin/activate": f"source {Path(sys.executable).parent}/activate",
        "MT_SSH_HOST=gpu.example.org": f"MT_SSH_HOST={ssh.host}",
        "MT_SSH_USER=me": f"MT_SSH_USER={ssh.user}",
        "MT_SSH_PORT=22": f"MT_SSH_PORT={ssh.port}",
        "MT_SSH_KEY_FILE=~/.ssh/id_ed25519": f"MT_SSH_KEY_FILE={ssh.client_key}",
        "MT_SSH_KNOWN_HOSTS=~/.ssh/known_hosts": f"MT_SSH_KNOWN_HOSTS={ssh.known_hosts}",
        "MT_SSH_WORKDIR=.mt-assets": f"MT_SSH_WORKDIR={ssh.dir / 'remote'}",
        "MT_SSH_PYTHON=python3": f"MT_SSH_PYTHON={sys.executable}",
        "HF_TOKEN=...": f"HF_TOKEN={SECRET}",
        "--partition nllb-600m-lora-ar-en": f"--partition {CONFIG}",
    }
    for placeholder, value in substitutions.items():
        assert placeholder in script, f"README no longer has {placeholder!r}: update this test"
        script = script.replace(placeholder, value)
    assert "CONFIG" not in script.replace("MT_CONFIG_DIR", ""), "a CONFIG placeholder was left unfilled"
    return "PS4='+ [${SECONDS}s] '\nset -euo pipefail -x\n" + script + "\n"


def test_readme_commands_run_as_written(demo_run, demo_env):
    assert demo_run.returncode == 0, "the demo must have filled the database first"
    configs = Path(demo_env["MT_CONFIG_DIR"])
    demo_yaml = (configs / f"{CONFIG}.yaml").read_text()
    (configs / f"{SSH_CONFIG}.yaml").write_text(demo_yaml.replace(f"name: {CONFIG}", f"name: {SSH_CONFIG}"))
    with running_sshd() as ssh:
        done = subprocess.run(
            ["bash", "-c", readme_script(ssh)], env=demo_env, cwd=README.parent,
            capture_output=True, text=True, timeout=900,
        )
        assert done.returncode == 0, f"{done.stderr[-6000:]}\n{done.stdout[-2000:]}"
        leaked = subprocess.run(["grep", "-rl", SECRET, str(ssh.dir)], capture_output=True, text=True)
        assert leaked.stdout == "", f"the hub token reached files on the remote host: {leaked.stdout}"
    for ran in ("mt-assets db start", "dagster definitions validate", "mt-assets sample-data quran",
                "--select tuning_configs", f"fine_tuned_model --partition {SSH_CONFIG}",
                f"--select translations,evaluation --partition {SSH_CONFIG}", "--select leaderboard",
                "mt-assets leaderboard", "--select 'tuning_dataset_distribution*'"):
        assert ran in done.stderr, f"{ran!r} did not run"
    assert re.search(r"^\s*llm\s*\|\s*evaluation\s*\|\s*table", done.stdout, re.M)  # psql '\dt llm.*'
    assert SSH_CONFIG in done.stdout and "chrF++" in done.stdout  # the terminal leaderboard

    url = _cli("db", "url", env=demo_env).stdout.strip()
    rows = subprocess.run(
        ["psql", url, "-Atc",
         "select count(*) from llm.fine_tuned_models f join llm.tuning_configs c on c.id = f.tuning_config_id"
         f" where c.name = '{SSH_CONFIG}' and f.status = 'succeeded';"
         " select count(*) from llm.translation t join llm.translation_method m on m.id = t.translation_method_id"
         f" where m.name = '{SSH_CONFIG}:fine-tuned';"
         f" select count(*) from event_logs where event like '%{SECRET}%'"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    assert rows[0] == "1", "the README's SSH block trains the new config on the sshd host"
    assert int(rows[1]) > 0, "the README's translate block translates with the SSH-trained model"
    assert rows[2] == "0", "the hub token reached Dagster's event log"
