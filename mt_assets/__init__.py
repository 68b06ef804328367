"""mt-assets: fine-tune and evaluate machine-translation models as Dagster assets."""

__version__ = "0.1.0"

# `dagster ... -m mt_assets` looks for the Definitions on the package itself.
from mt_assets.definitions import defs  # noqa: E402

__all__ = ["defs"]
