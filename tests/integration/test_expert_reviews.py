"""`expert_reviews` is an observable source: a reviewer's saved file changes its data version per domain."""

from pathlib import Path

from dagster import DagsterInstance, materialize

from anka_assets.assets.expert_reviews import ABSENT, file_version
from anka_assets.definitions import build_definitions


def observe(paths, instance) -> dict[str, str]:
    defs = build_definitions(paths)
    result = materialize(list(defs.assets), selection=["expert_reviews"], resources=defs.resources, instance=instance)
    assert result.success
    return {o.partition: o.tags["dagster/data_version"] for o in result.asset_observations_for_node("expert_reviews")}


def test_saved_verdict_file_changes_only_its_domains_version(refinery):
    with DagsterInstance.ephemeral() as instance:
        assert observe(refinery, instance) == {"hukuk": ABSENT, "tarih": ABSENT}

        reviews = Path(refinery.reviews_dir)
        reviews.mkdir(parents=True)
        (reviews / "hukuk.csv").write_text("row_id;verdict\nabc;onay\n", encoding="utf-8-sig")
        first = observe(refinery, instance)
        assert first["tarih"] == ABSENT and first["hukuk"] not in (ABSENT, "")

        (reviews / "hukuk.csv").write_text("row_id;verdict\nabc;ret\n", encoding="utf-8-sig")
        second = observe(refinery, instance)
        assert second["hukuk"] != first["hukuk"] and second["tarih"] == ABSENT


def test_file_version_is_the_content_not_the_timestamp(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_bytes(b"row_id,verdict\n1,approve\n")
    b.write_bytes(b"row_id,verdict\n1,approve\n")
    assert file_version(a) == file_version(b) != file_version(tmp_path / "missing.csv") == ABSENT
