"""Dagster resources. Domain code gets plain objects from them (``LocalStorage``)."""

from __future__ import annotations

import os

import dagster as dg

from pii_assets.storage import LocalStorage
from pii_assets.training.backbone import configured_backbone

DEFAULT_DATA_DIR = "data"


class StorageResource(dg.ConfigurableResource):
    """Where artifacts live. ``root`` defaults to $PII_ASSETS_DATA_DIR or ./data."""

    root: str = DEFAULT_DATA_DIR

    def store(self) -> LocalStorage:
        return LocalStorage(self.root)


def default_storage() -> StorageResource:
    return StorageResource(root=os.environ.get("PII_ASSETS_DATA_DIR", DEFAULT_DATA_DIR))


class BackboneResource(dg.ConfigurableResource):
    """The pretrained backbone (and so the tokenizer) and the token window.

    ``backbone`` defaults to $PII_ASSETS_BACKBONE or ``minilm`` (the packaged all-MiniLM-L6-v2);
    a local directory or a Hub name also work. The asset code versions include the env value,
    so changing it marks the tokens (and later models) stale in the UI.
    """

    backbone: str = "minilm"
    max_length: int = 256
    stride: int = 32


def default_backbone() -> BackboneResource:
    return BackboneResource(backbone=configured_backbone())
