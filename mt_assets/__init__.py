"""mt-assets: fine-tune and evaluate machine-translation models as Dagster assets."""

import dagster as dg

__version__ = "0.1.0"


# `dagster ... -m mt_assets` finds the Definitions here. Loaded lazily so that the CLI and the
# training / translation entry points (which also run on remote hosts) do not import every
# asset module, and with it torch and transformers, just to start.
@dg.definitions
def defs() -> dg.Definitions:
    from mt_assets.definitions import defs as definitions

    return definitions
