"""The `mt-assets` command."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mt_assets.db import DatabaseError, urls
from mt_assets.db.connection import database_url, ready_database_url
from mt_assets.db.migrate import migrate
from mt_assets.db.server import EmbeddedServer
from mt_assets.settings import Settings
from mt_assets.supervise import Supervisor


def _embedded(settings: Settings, action: str) -> EmbeddedServer:
    if not settings.embedded:
        raise DatabaseError(
            f"MT_DATABASE_URL is set, so there is no embedded server to {action}; "
            f"mt-assets uses {urls.redact(settings.database_url or '')}"
        )
    return EmbeddedServer(settings.postgres_dir)


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "url":
        print(urls.libpq(database_url(settings, start=False)))
        return 0
    if args.action == "migrate":
        applied = migrate(database_url(settings))
        print(f"applied {len(applied)} migration(s)" + "".join(f"\n  {m.path.name}" for m in applied))
        return 0
    server = _embedded(settings, args.action)
    if args.action == "start":
        was_running = server.status().running
        url = ready_database_url(settings)
        state = "already running" if was_running else "started"
        print(f"embedded PostgreSQL {state}: {url}", file=sys.stderr)
    elif args.action == "stop":
        stopped = server.stop()
        print("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running", file=sys.stderr)
    elif args.action == "status":
        status = server.status()
        if status.running:
            print(f"running (pid {status.pid}) data {status.data_dir} url {status.url}")
        else:
            print(f"stopped; data {status.data_dir}")
            return 3
    return 0


def cmd_env(args: argparse.Namespace, settings: Settings) -> int:
    from mt_assets.dagster_home import environment, export_lines

    print(export_lines(environment(settings, ready_database_url(settings))))
    return 0


@contextmanager
def _database_for(settings: Settings, supervisor: Supervisor, *, keep_when_done: bool) -> Iterator[str]:
    """The ready database of a supervised command. An embedded server this command starts is
    stopped when a signal stops the command, and when it ends otherwise unless keep_when_done.
    A server already running (`mt-assets db start`, another command) belongs to whoever started
    it and keeps running; so does one restarted by someone else meanwhile (another pid)."""
    server = EmbeddedServer(settings.postgres_dir) if settings.embedded else None
    ours = server is not None and not server.status().running
    started_pid = None
    try:
        url = ready_database_url(settings)
        started_pid = server.status().pid if ours else None
        yield url
    finally:
        wanted = supervisor.stopped_by is not None or not keep_when_done
        if ours and wanted and started_pid in (None, server.status().pid) and server.stop():
            print("embedded PostgreSQL stopped", file=sys.stderr)


def cmd_dev(args: argparse.Namespace, settings: Settings) -> int:
    from mt_assets.dagster_home import environment

    cmd = ["dagster", "dev", "-m", "mt_assets.definitions", "--host", args.host, "--port", str(args.port)]
    with Supervisor("mt-assets dev") as supervisor, _database_for(settings, supervisor, keep_when_done=False) as url:
        env = {**os.environ, **environment(settings, url)}
        print(f"starting Dagster UI on http://{args.host}:{args.port} (Ctrl-C stops it)", file=sys.stderr)
        code = supervisor.run(cmd, env)
    # A stop is how `dev` ends: `dagster dev` exits 0 after SIGINT.
    return 0 if code in (0, 128 + signal.SIGINT) else code


def cmd_sample_data(args: argparse.Namespace, settings: Settings) -> int:
    from mt_assets.sample_data import MissingPackage, build_quran

    out = args.out or settings.raw_dir
    try:
        written = build_quran(out)
    except MissingPackage as err:
        print(f"mt-assets: error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {len(written)} files to {out}:" + "".join(f"\n  {p.name}" for p in written))
    return 0


def cmd_export_model(args: argparse.Namespace, settings: Settings) -> int:
    from mt_assets.db.connection import connect
    from mt_assets.training import export

    if args.format == "hf" and args.quantization:
        print("mt-assets: error: --quantization applies to --format gguf only", file=sys.stderr)
        return 2
    if args.replicate < 1 or args.verify_rows < 1:
        print("mt-assets: error: --replicate and --verify-rows count from 1", file=sys.stderr)
        return 2
    suffix = "" if args.replicate == 1 else f"-r{args.replicate}"
    try:
        with connect(ready_database_url(settings)) as conn:
            model_id, adapter, sha256 = export.latest_adapter(conn, args.config, args.replicate)
            if args.format == "gguf":
                info = export.check_gguf(adapter, args.config)
                prompts, source = export.verification_prompts(
                    conn, args.config, info.get("prompt_template"), args.verify_rows
                )
        export.verify(adapter, sha256)
        default = settings.home / "exports" / args.config / f"{model_id}{suffix}"
        if args.format == "hf":
            out = export.merge(adapter, args.out or default)
        else:
            quantization = args.quantization or "f16"
            out, report = export.export_gguf(
                adapter, args.out or default.with_name(f"{default.name}-gguf-{quantization}"),
                quantization, args.config + suffix, prompts,
            )
            print(f"verified on {source}:\n{report}")
    except export.ExportError as err:
        print(f"mt-assets: error: {err}", file=sys.stderr)
        return 1
    print(out)
    return 0


def cmd_leaderboard(args: argparse.Namespace, settings: Settings) -> int:
    from mt_assets.evaluation.terminal import print_leaderboard

    return print_leaderboard(ready_database_url(settings), as_json=args.json)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from mt_assets import demo

    configs = args.configs or demo.DEMO_CONFIGS
    cmd = [sys.executable, "-m", "mt_assets.demo", *(["--full"] if args.full else []), *configs]
    # A finished (or failed) demo keeps the server it started: `psql` and `mt-assets dev` show its results.
    with Supervisor("mt-assets demo") as supervisor, _database_for(settings, supervisor, keep_when_done=True):
        return supervisor.run(cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mt-assets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="the project's PostgreSQL server")
    db.add_argument("action", choices=["start", "stop", "status", "url", "migrate"])
    db.set_defaults(func=cmd_db)

    env = sub.add_parser("env", help='print export lines: eval "$(mt-assets env)"')
    env.set_defaults(func=cmd_env)

    from mt_assets.demo import SIZES_HELP

    demo = sub.add_parser(
        "demo",
        help="the whole pipeline on the Quran sample and Gemma 3 270M, then the leaderboard",
        description="Loads the Quran sample, registers the configs, runs the experiment job (split,\n"
        "fine-tune, translate, score) for each demo config and prints the leaderboard. Progress\n"
        "(stage, training step, loss, ETA, translation rate) goes to stderr.",
        epilog=SIZES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--configs", nargs="+", metavar="NAME", help="config names to run (default: the two Gemma demo configs)")
    demo.add_argument("--full", action="store_true", help="the longer, better run (see sizes below)")
    demo.set_defaults(func=cmd_demo)

    dev = sub.add_parser("dev", help="start the database and the Dagster UI")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.set_defaults(func=cmd_dev)

    sample = sub.add_parser("sample-data", help="write real sample data (raw files + editions.yaml)")
    sample.add_argument("dataset", choices=["quran"], help="quran: Arabic and Persian with English (needs the demo extra)")
    sample.add_argument("--out", type=Path, help="directory to write (default: MT_RAW_DIR)")
    sample.set_defaults(func=cmd_sample_data)

    export = sub.add_parser(
        "export-model", help="merge a config's newest LoRA adapter into its base model (HF directory or GGUF)"
    )
    export.add_argument("config", help="tuning config name")
    export.add_argument("--format", choices=["hf", "gguf"], default="hf", help="hf: merged directory; gguf: one file")
    export.add_argument(
        "--quantization", choices=["f16", "q8_0"], help="GGUF weights (default f16); only with --format gguf"
    )
    export.add_argument("--replicate", type=int, default=1, metavar="K", help="which replicate's model (default 1)")
    export.add_argument(
        "--verify-rows", type=int, default=4, metavar="N", help="test rows greedy-translated to check a GGUF (default 4)"
    )
    export.add_argument(
        "--out",
        type=Path,
        help="directory to write (default: MT_HOME/exports/CONFIG/MODEL_ID[-rK][-gguf-QUANT])",
    )
    export.set_defaults(func=cmd_export_model)

    board = sub.add_parser(
        "leaderboard",
        help="print every method of every execution, ranked by chrF++ meaning margin (markdown)",
        description="Ranked by the chrF++ meaning margin (score minus the style control); docs/leaderboard.md "
        "explains every column and JSON field.",
    )
    board.add_argument("--json", action="store_true", help="a JSON array, one object per method and execution")
    board.set_defaults(func=cmd_leaderboard)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args, Settings.from_env())
    except DatabaseError as err:
        print(f"mt-assets: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
