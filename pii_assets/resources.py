"""Dagster resources. Domain code gets plain objects from them (``LocalStorage``)."""

from __future__ import annotations

import os

import dagster as dg

from pii_assets.storage import LocalStorage

DEFAULT_DATA_DIR = "data"


class StorageResource(dg.ConfigurableResource):
    """Where artifacts live. ``root`` defaults to $PII_ASSETS_DATA_DIR or ./data."""

    root: str = DEFAULT_DATA_DIR

    def store(self) -> LocalStorage:
        return LocalStorage(self.root)


def default_storage() -> StorageResource:
    return StorageResource(root=os.environ.get("PII_ASSETS_DATA_DIR", DEFAULT_DATA_DIR))
