"""mt-assets: fine-tune and evaluate machine-translation models as Dagster assets."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # `dagster ... -m mt_assets` finds the Definitions here: it lists the module's names and reads
    # each. Resolved on first read, so the CLI and the training / translation entry points (which
    # also run on remote hosts) import neither dagster (~3 s) nor the asset modules to start.
    if name == "defs":
        from mt_assets.definitions import defs

        return defs
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return [*globals(), "defs"]
