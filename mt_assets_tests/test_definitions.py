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
