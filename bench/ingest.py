"""Ingest benchmark: our loader vs pandas `read_csv` + `to_sql` vs raw `psql \\copy`.

    python bench/ingest.py [--rows 200000] [--rss-rows 1000000]

Generates a synthetic TSV (Arabic-script sources, English translations, ~3% bad rows of
kinds COPY itself accepts: empty texts, unparseable paragraph numbers, unknown language
codes, duplicate references), loads it three ways into one database, and prints rows/s and
ratios; then measures the peak RSS (VmHWM) of our loader, in a child process, on a larger file.
Uses MT_DATABASE_URL when set, otherwise an embedded server in a temporary directory.
Not part of the test suite: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

from mt_assets.db import urls
from mt_assets.db.connection import connect
from mt_assets.db.migrate import migrate
from mt_assets.db.server import EmbeddedServer
from mt_assets.ingest.load import load_files
from mt_assets.ingest.manifest import discover

HEADER = "source_text\tsource_paragraph\tsource_reference\tofficial_translate\tsource_language\n"
ARABIC_WORDS = ("کتاب", "می\u200cخواهم", "الرَّحْمَٰنِ", "السَّمَاوَاتِ", "وَالْأَرْضِ", "خداوند", "بخشنده",
                "قُلْ", "هُوَ", "اللَّهُ", "أَحَدٌ", "نامه\u200cها", "دانشگاه", "يَعْلَمُ", "مَا", "بَيْنَ")
ENGLISH_WORDS = ("the", "book", "heavens", "earth", "merciful", "say", "he", "is", "one", "knows",
                 "what", "between", "letters", "university", "I", "want", "to", "read")
TARGETS = {"to_sql": 10.0, "copy": 0.5, "rss_mb": 400.0}


def generate(path: Path, rows: int, seed: int = 7) -> int:
    """Write the synthetic file; returns how many rows are bad."""
    rng = random.Random(seed)
    bad = 0
    with path.open("w", encoding="utf-8") as f:
        f.write(HEADER)
        for i in range(rows):
            source = " ".join(rng.choices(ARABIC_WORDS, k=rng.randint(4, 30)))
            target = " ".join(rng.choices(ENGLISH_WORDS, k=rng.randint(4, 35)))
            paragraph, reference, language = str(i % 300 + 1), f"{i // 300 + 1}:{i % 300 + 1}", rng.choice("af")
            language = "ar" if language == "a" else "fa"
            if rng.random() < 0.03:
                bad += 1
                kind = i % 5
                if kind == 0:
                    source = ""
                elif kind == 1:
                    target = "   "
                elif kind == 2:
                    paragraph = "x" + paragraph
                elif kind == 3:
                    language = "zz"
                else:
                    reference = f"{max(i - 1, 0) // 300 + 1}:{max(i - 1, 0) % 300 + 1}"
            f.write(f"{source}\t{paragraph}\t{reference}\t{target}\t{language}\n")
    return bad


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def ours(url: str, raw_dir: Path) -> None:
    with connect(url) as conn:
        (result,) = load_files(conn, discover(raw_dir).files)
    if result.status != "loaded":
        raise SystemExit(f"our loader failed: {result.error}")
    print(f"  ours: read {result.rows_read}, loaded {result.rows_loaded}, rejected {result.rows_rejected}",
          file=sys.stderr)


def pandas_to_sql(url: str, path: Path) -> None:
    import pandas as pd
    from sqlalchemy import create_engine

    engine = create_engine(urls.sqlalchemy(url))
    frame = pd.read_csv(path, sep="\t", quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False)
    frame.to_sql("bench_pandas", engine, if_exists="replace", index=False)
    engine.dispose()


def psql_copy(url: str, path: Path) -> None:
    with psycopg.connect(urls.libpq(url), autocommit=True) as conn:
        conn.execute("drop table if exists bench_copy")
        conn.execute("create table bench_copy (source_text text, source_paragraph text, source_reference text, "
                     "official_translate text, source_language text)")
    subprocess.run(["psql", urls.libpq(url), "-v", "ON_ERROR_STOP=1", "-qc",
                    f"\\copy bench_copy from '{path}' with (format text, header true)"], check=True)


def psql_copy_dataset(url: str, clean: Path) -> None:
    """The floor for any loader: rows that are already clean and unique, \\copy'd straight into
    llm.dataset, which carries a foreign key and three indexes that the bare table lacks."""
    subprocess.run(["psql", urls.libpq(url), "-v", "ON_ERROR_STOP=1", "-qc",
                    f"\\copy llm.dataset (edition_id, source_text, source_paragraph, source_reference, "
                    f"official_translate, source_language) from '{clean}' with (format text)"], check=True)


def export_clean(url: str, clean: Path) -> None:
    """Our loaded rows, under a new edition, as the input of `psql_copy_dataset`."""
    with psycopg.connect(urls.libpq(url), autocommit=True) as conn:
        edition = conn.execute("insert into llm.dataset_editions (name) values ('bench-floor') returning id").fetchone()[0]
        with clean.open("wb") as f, conn.cursor().copy(
            "copy (select %s, source_text, source_paragraph, source_reference, official_translate, source_language "
            "from llm.dataset order by id) to stdout", (edition,)
        ) as copy:
            for chunk in copy:
                f.write(chunk)


def child_load(url: str, raw_dir: str) -> None:
    start = time.perf_counter()
    with connect(url) as conn:
        (result,) = load_files(conn, discover(Path(raw_dir)).files)
    seconds = time.perf_counter() - start
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child forked from this
    # benchmark (which holds a pandas DataFrame) would report the parent's size.
    peak_kb = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                   if line.startswith("VmHWM:"))
    print(f"{result.status} {result.rows_read} {seconds:.3f} {peak_kb}")


def server_url(workdir: Path) -> tuple[str, EmbeddedServer | None]:
    if os.environ.get("MT_DATABASE_URL"):
        return os.environ["MT_DATABASE_URL"], None
    root = workdir / "pg"
    root.mkdir()
    server = EmbeddedServer(root, database="postgres")
    return server.start(), server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rss-rows", type=int, default=1_000_000)
    parser.add_argument("--child-load", nargs=2, metavar=("URL", "RAW_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_load:
        child_load(*args.child_load)
        return

    workdir = Path(tempfile.mkdtemp(prefix="mt-bench-", dir="/tmp"))
    workdir.chmod(0o755)  # the embedded server's own user must enter it when we are root
    base, server = server_url(workdir)
    name = f"mt_bench_{uuid.uuid4().hex[:8]}"
    admin = urls.with_database(base, "postgres")
    with psycopg.connect(urls.libpq(admin), autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = urls.with_database(base, name)
    try:
        migrate(url)
        raw = workdir / "raw"
        raw.mkdir()
        path = raw / "bench.tsv"
        bad = generate(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        print(f"{args.rows} rows ({bad} bad, {size_mb:.1f} MB) in {path.name}")

        clean = workdir / "clean.tsv"
        seconds = {"ours (mt_assets loader)": timed(lambda: ours(url, raw))}
        export_clean(url, clean)
        seconds |= {
            "pandas read_csv + to_sql": timed(lambda: pandas_to_sql(url, path)),
            "psql \\copy (bare table)": timed(lambda: psql_copy(url, path)),
            "psql \\copy (llm.dataset)": timed(lambda: psql_copy_dataset(url, clean)),
        }
        mine = seconds["ours (mt_assets loader)"]
        print(f"\n{'method':28} {'seconds':>8} {'rows/s':>10} {'ours / it':>10}")
        for method, s in seconds.items():
            print(f"{method:28} {s:8.2f} {args.rows / s:10,.0f} {s / mine:9.2f}x")
        vs_to_sql = seconds["pandas read_csv + to_sql"] / mine
        vs_copy = seconds["psql \\copy (bare table)"] / mine
        print("(psql \\copy (llm.dataset): the accepted rows, already clean, into the real table with its\n"
              " foreign key and indexes; no loader that writes llm.dataset can beat it)")

        big = workdir / "raw-big"
        big.mkdir()
        generate(big / "bench-big.tsv", args.rss_rows, seed=11)
        out = subprocess.run([sys.executable, __file__, "--child-load", url, str(big)],
                             capture_output=True, text=True, check=True)
        status, rows, child_seconds, peak_kb = out.stdout.split()
        peak_mb = int(peak_kb) / 1024
        print(f"\nours on {int(rows):,} rows: {status} in {float(child_seconds):.1f} s "
              f"({int(rows) / float(child_seconds):,.0f} rows/s), peak RSS {peak_mb:.0f} MB (child process)")

        print("\ntargets:")
        print(f"  >= {TARGETS['to_sql']:g}x pandas to_sql : {vs_to_sql:.1f}x  {'met' if vs_to_sql >= TARGETS['to_sql'] else 'MISSED'}")
        print(f"  >= {TARGETS['copy']:g}x psql \\copy    : {vs_copy:.2f}x  {'met' if vs_copy >= TARGETS['copy'] else 'MISSED'}")
        print(f"  < {TARGETS['rss_mb']:g} MB RSS, {args.rss_rows:,} rows: {peak_mb:.0f} MB  "
              f"{'met' if peak_mb < TARGETS['rss_mb'] else 'MISSED'}")
    finally:
        with psycopg.connect(urls.libpq(admin), autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
