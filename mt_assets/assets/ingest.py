"""`raw_files` and `dataset`: raw parallel files into PostgreSQL, with their checks.

`dataset` loads and commits every file it can, then fails the run when any file was refused
as a whole or gave no accepted row, naming each such file and the reason: its materialization
(what did load) and the failed `files_load` check are recorded first."""


import dagster as dg

from mt_assets.assets import markdown
from mt_assets.assets.watch import on_directory_change
from mt_assets.ingest import report
from mt_assets.ingest.errors import ManifestError
from mt_assets.ingest.load import EditionLoad, load_files
from mt_assets.ingest.manifest import Discovery, discover, fingerprint
from mt_assets.resources import DatabaseResource
from mt_assets.settings import Settings


def _discover() -> Discovery:
    settings = Settings.from_env()
    try:
        found = discover(settings.raw_dir)
    except ManifestError as err:
        raise dg.Failure(str(err)) from None
    if not found.files and not found.problems:
        raise dg.Failure(
            f"no .tsv, .csv or .jsonl files under {settings.raw_dir} (MT_RAW_DIR); "
            f"try `mt-assets sample-data quran --out {settings.raw_dir}`"
        )
    return found


def _table(header: tuple[str, ...], rows: list[tuple]) -> str:
    return markdown.table(header, rows, width=60)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "-"


@dg.asset(group_name="data", description="The raw TSV/CSV/JSONL files under MT_RAW_DIR and their editions.")
def raw_files(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    found = _discover()
    for problem in found.problems:
        context.log.error(str(problem))
    return dg.MaterializeResult(metadata={
        "files": len(found.files),
        "total_bytes": sum(f.size for f in found.files),
        "manifest": str(found.manifest) if found.manifest else "none (seed column names, edition = file stem as a slug)",
        "listing": dg.MetadataValue.md(_table(
            ("file", "edition", "format", "bytes", "sha256"),
            [(f.spec.path.name, f.spec.name, f.spec.format, f.size, f.sha256) for f in found.files],
        )),
        "problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in found.problems) or "none"),
    })


def _edition_table(loads: list[EditionLoad]) -> str:
    return _table(
        ("edition", "version", "status", "read", "loaded", "rejected", "languages", "rejections"),
        [(r.name, r.version or "-", r.status, r.rows_read, r.rows_loaded, r.rows_rejected,
          _counts(r.languages), _counts(r.reasons)) for r in loads],
    )


@dg.asset(
    group_name="data",
    deps=[raw_files],
    description="Every raw file loaded into llm.dataset (bad rows in llm.rejected_rows); "
    "a changed file or editions.yaml entry becomes a new edition version.",
    check_specs=[dg.AssetCheckSpec(
        "files_load", asset="dataset",
        description="Every raw file loaded with at least one accepted row; a file refused as a whole "
        "(undecodable bytes, missing column, clashing edition name, ...) or whose rows were all rejected "
        "fails this, and the run fails after the other files are loaded.",
    )],
)
def dataset(context: dg.AssetExecutionContext, database: DatabaseResource):
    found = _discover()
    with database.connect() as conn:
        loads = load_files(conn, found.files)
        previews = {r.name: report.preview(conn, r.edition_id) for r in loads if r.edition_id is not None}
        without_rows = [_no_rows(r, report.rejection_kinds(conn, r.edition_id))
                        for r in loads if r.status != "failed" and r.rows_loaded == 0]
    refused = [str(p) for p in found.problems] + [r.error for r in loads if r.error]
    errors = refused + without_rows
    for error in errors:
        context.log.error(error)
    ok = [r for r in loads if r.status != "failed"]
    preview_rows = [(name, *row) for name, rows in previews.items() for row in rows]
    metadata = {
        "editions": dg.MetadataValue.md(_edition_table(loads)),
        "editions_loaded": sum(r.status == "loaded" for r in loads),
        "editions_unchanged": sum(r.status == "unchanged" for r in loads),
        "files_failed": len(refused),
        "files_without_rows": len(without_rows),
        "rows_read": sum(r.rows_read for r in ok),
        "rows_loaded": sum(r.rows_loaded for r in ok),
        "rows_rejected": sum(r.rows_rejected for r in ok),
        "languages": dg.MetadataValue.md(_counts(_merge(r.languages for r in ok))),
        "preview": dg.MetadataValue.md(_table(("edition", "reference", "lang", "source", "translation"), preview_rows)),
        "file_errors": dg.MetadataValue.md("\n".join(f"- {e}" for e in errors) or "none"),
    }
    for r in ok:
        metadata[f"{r.name}: loaded / rejected / read"] = f"{r.rows_loaded} / {r.rows_rejected} / {r.rows_read}"
    check = dg.AssetCheckResult(
        check_name="files_load",
        passed=not errors,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"failed_files": len(errors), "errors": dg.MetadataValue.md("\n".join(f"- {e}" for e in errors) or "none")},
    )
    yield dg.MaterializeResult(metadata=metadata, check_results=[check])
    if errors:
        # After the materialization: the other files' rows are committed and recorded as such,
        # but a run that lost a whole file must not end as a success.
        raise dg.Failure(
            description=f"{len(errors)} file(s) under MT_RAW_DIR gave no rows (the other files are loaded):\n"
            + "\n".join(f"- {e}" for e in errors),
            metadata={"files_failed": len(refused), "files_without_rows": len(without_rows)},
        )


def _no_rows(load: EditionLoad, kinds: list[report.RejectionKind]) -> str:
    found = "; ".join(f"{k.reason} {k.rows}, first on line {k.first_line}" for k in kinds) or "none stored"
    return (
        f"{load.source_file}: no row accepted, all {load.rows_read} rejected ({found}); version {load.version} "
        f"of edition {load.name!r} is kept but never used (configs read the newest version that has rows): "
        f"see `select * from llm.rejected_rows where edition_id = {load.edition_id}`, fix the file, "
        "and materialize again"
    )


def _merge(counts) -> dict[str, int]:
    total: dict[str, int] = {}
    for c in counts:
        for k, v in c.items():
            total[k] = total.get(k, 0) + v
    return dict(sorted(total.items()))


def _accounting(conn) -> dg.AssetCheckResult:
    rows = report.accounting(conn)
    bad = [r for r in rows if not r.balanced]
    return dg.AssetCheckResult(
        check_name="accounting",
        passed=not bad,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "editions_checked": len(rows),
            "unbalanced": dg.MetadataValue.md(_table(
                ("edition", "version", "file", "read", "loaded", "rejected", "stored rows", "stored rejections"),
                [(r.edition, r.version, r.source_file, r.rows_read, r.rows_loaded, r.rows_rejected,
                  r.in_dataset, r.in_rejected) for r in bad],
            ) if bad else "none"),
        },
    )


def _no_empty_texts(conn) -> dg.AssetCheckResult:
    empty = report.empty_texts(conn)
    return dg.AssetCheckResult(check_name="no_empty_texts", passed=empty == 0,
                               severity=dg.AssetCheckSeverity.ERROR, metadata={"empty_rows": empty})


def _figures(check_name: str, figures: list[report.EditionFigure], what: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=check_name,
        passed=all(f.count == 0 for f in figures),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            what: sum(f.count for f in figures),
            "per_edition": dg.MetadataValue.md(_table(
                ("edition", what, "rows", "detail"), [(f.edition, f.count, f.rows, f.detail) for f in figures]
            )),
        },
    )


_CHECKS = {
    "accounting": (
        "Per loaded file: accepted + rejected = data rows read, and the stored rows match those counts.",
        _accounting,
    ),
    "no_empty_texts": ("No stored row has an empty source text or translation.", _no_empty_texts),
    "length_ratio_outliers": (
        f"Rows of the current editions whose translation/source length ratio is over {report.RATIO_FACTOR:g}x "
        "away from the edition's median (a warning: such rows are kept).",
        lambda conn: _figures("length_ratio_outliers", report.length_ratio_outliers(conn), "outliers"),
    ),
    "duplicate_source_texts": (
        "Source texts of the current editions that appear under more than one reference (a warning).",
        lambda conn: _figures("duplicate_source_texts", report.duplicate_source_texts(conn), "duplicated_texts"),
    ),
}


# One step for the four database checks: each Dagster step is a process that imports the
# whole code location, which costs more than the queries.
@dg.multi_asset_check(
    specs=[dg.AssetCheckSpec(name, asset="dataset", description=text) for name, (text, _) in _CHECKS.items()],
    can_subset=True,
)
def dataset_checks(context: dg.AssetCheckExecutionContext, database: DatabaseResource):
    selected = {key.name for key in context.selected_asset_check_keys}
    with database.connect() as conn:
        for name, (_, run) in _CHECKS.items():
            if name in selected:
                yield run(conn)


@dg.sensor(
    target=[raw_files, dataset],
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Loads the raw files again when a file under MT_RAW_DIR is added, removed or modified "
    "(unchanged content is skipped by the loader, so a touched file costs one quick run).",
)
def raw_files_sensor(context: dg.SensorEvaluationContext):
    return on_directory_change(context, Settings.from_env().raw_dir, "MT_RAW_DIR", fingerprint)


INGEST_ASSETS = [raw_files, dataset]
INGEST_CHECKS = [dataset_checks]
INGEST_SENSORS = [raw_files_sensor]
