"""Partitions: one dynamic partition per batch and one per release, and checks partitioned like them."""

import warnings

import dagster as dg

batches = dg.DynamicPartitionsDefinition(name="batches")
releases = dg.DynamicPartitionsDefinition(name="releases")


def partitioned_check(name: str, asset: str, partitions_def: dg.PartitionsDefinition, **kwargs) -> dg.AssetCheckSpec:
    """A check partitioned like its asset, so each batch or release has its own check status (the UI
    lists it per partition, and the automation condition holds back exactly the batch whose blocking
    check failed; unpartitioned checks of a partitioned asset share one status, the latest one's).
    Partitioned checks are a preview feature of Dagster 1.13; its warning is silenced here, where the
    choice is made."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(name, asset=asset, partitions_def=partitions_def, **kwargs)
