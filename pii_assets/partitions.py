"""Partitions: one dynamic partition per batch and one per release."""

import dagster as dg

batches = dg.DynamicPartitionsDefinition(name="batches")
releases = dg.DynamicPartitionsDefinition(name="releases")
