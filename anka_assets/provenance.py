"""What produced a table, recorded with the table: the model stage's settings become materialization
metadata of the partitions it wrote, and downstream assets read them back from there.

A model stage (`raw_cot`, `judged_cot`) adds ``produced_with(...)`` to its output metadata: its run
config (samples, temperature, token limit, thresholds, ...), the model, the endpoint's audit label (no
credentials), its locality and the prompt template version. Dagster stores it on every partition that
run materialized. `sft_export` reads, for each domain in its input, the latest materialization of that
asset *partition* (`recorded`): the event that wrote the rows it is exporting, never "the latest run".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dagster import AssetKey, AssetRecordsFilter, MetadataValue
from pydantic import BaseModel

from anka_assets.gateway.endpoint import EndpointSettings

__all__ = ["PRODUCED_WITH", "group_by_record", "produced_with", "recorded", "stage_record"]

#: The metadata key of a model stage's record on each partition it materialized.
PRODUCED_WITH = "produced_with"


def stage_record(config: BaseModel, endpoint: EndpointSettings, template_version: str,
                 fallback: EndpointSettings | None = None) -> dict[str, Any]:
    """The record of one model stage's run: JSON-safe, free of secrets (no key, no URL credentials). Pure."""
    record: dict[str, Any] = {
        "config": config.model_dump(mode="json"),
        "model": endpoint.model,
        "endpoint": endpoint.endpoint,
        "locality": str(endpoint.locality),
        "template_version": template_version,
    }
    if fallback is not None:
        record["fallback"] = {"model": fallback.model, "endpoint": fallback.endpoint,
                              "locality": str(fallback.locality)}
    return record


def produced_with(config: BaseModel, endpoint: EndpointSettings, template_version: str,
                  fallback: EndpointSettings | None = None) -> dict[str, MetadataValue]:
    """Output metadata of a model stage: ``{PRODUCED_WITH: <stage_record>}``."""
    return {PRODUCED_WITH: MetadataValue.json(stage_record(config, endpoint, template_version, fallback))}


def recorded(instance, asset: str, partitions: Iterable[str]) -> dict[str, dict[str, Any] | None]:
    """{partition: the record on its latest materialization} (None: that materialization has no record,
    e.g. it predates recording, or the partition was never materialized in this instance)."""
    out: dict[str, dict[str, Any] | None] = {}
    for partition in sorted(set(partitions)):
        result = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[partition]), limit=1)
        event = result.records[0].asset_materialization if result.records else None
        entry = event.metadata.get(PRODUCED_WITH) if event is not None else None
        out[partition] = dict(entry.value) if entry is not None else None
    return out


def group_by_record(records: Mapping[str, dict[str, Any] | None]) -> list[dict[str, Any]]:
    """Domains that share one record, together: ``[{"domains": [...], **record}]``; domains without a
    record: ``{"domains": [...], "recorded": False}``. Sorted by the first domain. Pure."""
    groups: list[tuple[dict[str, Any] | None, list[str]]] = []
    for domain in sorted(records):
        record = records[domain]
        for known, domains in groups:
            if known == record:
                domains.append(domain)
                break
        else:
            groups.append((record, [domain]))
    return [{"domains": domains, **(record if record is not None else {"recorded": False})}
            for record, domains in groups]
