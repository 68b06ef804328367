"""Temporary: training/registry.py (being edited by another engineer) still imports directory_sha256
from here. Delete this file once registry.py imports it from mt_assets.models.artefacts."""

from mt_assets.models.artefacts import directory_sha256  # noqa: F401
