"""Named jobs over the asset graph: what the demo runs, and what a user launches from the UI."""

import dagster as dg

from mt_assets.partitions import tuning_config_partitions

# One config's experiment, in order; the nightly schedule's job adds the leaderboard to it.
EXPERIMENT_ASSETS = ("tuning_dataset_distribution", "fine_tuned_model", "translations", "evaluation")

prepare_job = dg.define_asset_job(
    "prepare_data",
    selection=dg.AssetSelection.assets("raw_files", "dataset", "tuning_configs"),
    description="Load raw files and register tuning configs (one partition per config).",
)

experiment_job = dg.define_asset_job(
    "experiment",
    selection=dg.AssetSelection.assets(*EXPERIMENT_ASSETS),
    partitions_def=tuning_config_partitions,
    description="One config end to end: split, fine-tune, translate the test split, score.",
)

leaderboard_job = dg.define_asset_job(
    "refresh_leaderboard",
    selection=dg.AssetSelection.assets("leaderboard"),
    description="All configs side by side.",
)

JOBS = [prepare_job, experiment_job, leaderboard_job]
