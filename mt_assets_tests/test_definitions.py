import json
import os
from pathlib import Path

import dagster as dg

from mt_assets.definitions import defs
from mt_assets.resources import DatabaseResource


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)  # what `dagster dev` does: jobs, names, resources
    repo = defs.get_repository_def()
    repo.load_all_definitions()
    assert {"database", "launcher"} <= set(repo.get_top_level_resources())
    assert {"prepare_data", "experiment", "refresh_leaderboard"} <= {j.name for j in repo.get_all_jobs()}


def test_database_resource_migrates_and_connects(db_url):
    resource = DatabaseResource(url=db_url)
    with dg.build_init_resource_context() as ctx:
        resource.setup_for_execution(ctx)
        with resource.engine.connect() as conn:
            assert conn.exec_driver_sql("select count(*) from llm.schema_migrations").scalar() >= 2
        resource.teardown_after_execution(ctx)


def test_postgres_backed_instance_records_runs(pg_dagster_instance, db_url):
    @dg.asset
    def probe(database: DatabaseResource) -> dg.MaterializeResult:
        with database.engine.connect() as conn:
            n = conn.exec_driver_sql("select count(*) from llm.dataset").scalar()
        return dg.MaterializeResult(metadata={"rows": n})

    result = dg.materialize([probe], instance=pg_dagster_instance, resources={"database": DatabaseResource(url=db_url)})
    assert result.success
    record = pg_dagster_instance.get_latest_materialization_event(dg.AssetKey("probe"))
    assert record is not None
    assert record.asset_materialization.metadata["rows"].value == 0
    assert type(pg_dagster_instance.run_storage).__name__ == "PostgresRunStorage"


SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"


def _graph_snapshot() -> dict:
    """What a reviewer should see change: assets with their deps, partitions and checks; jobs with
    the steps they run; sensors and schedules with their targets; the executor."""
    repo = defs.get_repository_def()
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        partitions = node.partitions_def
        assets[key.to_user_string()] = {
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "partitions": None if partitions is None
            else f"{type(partitions).__name__}:{getattr(partitions, 'name', None) or ''}",
            "checks": sorted(c.name for c in node.check_keys),
        }
    return {
        "assets": assets,
        "jobs": {j.name: sorted(j.graph.node_names()) for j in repo.get_all_jobs() if not j.name.startswith("__")},
        "sensors": {s.name: sorted(t.job_name for t in s.targets) for s in repo.sensor_defs},
        "schedules": {s.name: {"cron": s.cron_schedule, "job": s.job_name} for s in repo.schedule_defs},
        "executor": defs.executor.name,
    }


def test_definitions_match_the_snapshot():
    # An intended change to the graph: MT_UPDATE_SNAPSHOT=1 pytest -k snapshot, and commit the file.
    current = json.dumps(_graph_snapshot(), indent=1, sort_keys=True) + "\n"
    if os.environ.get("MT_UPDATE_SNAPSHOT"):
        SNAPSHOT.write_text(current)
    assert current == SNAPSHOT.read_text(), (
        "the Dagster definitions changed: review the difference, then MT_UPDATE_SNAPSHOT=1 "
        "pytest mt_assets_tests/test_definitions.py -k snapshot and commit the snapshot"
    )
