"""Every test module sits in a tier folder, and the tier's marker is what `-m` selects on."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import TIERS, tier_of

TESTS = Path(__file__).resolve().parents[1]


def test_every_test_module_is_in_a_tier_folder():
    loose = sorted(p.name for p in TESTS.glob("test_*.py"))
    assert not loose, f"test modules outside tests/unit, tests/integration, tests/slow: {loose}"
    for tier in TIERS:
        assert (TESTS / tier / "__init__.py").is_file(), f"tests/{tier}/__init__.py is missing"
        assert any((TESTS / tier).glob("test_*.py")), f"tests/{tier} holds no test module"


def test_the_tier_is_the_folder_under_tests():
    assert tier_of(TESTS / "unit" / "test_tiers.py") == "unit"
    assert tier_of(TESTS / "slow" / "test_vllm.py") == "slow"
    assert tier_of(TESTS / "integration" / "test_jobs.py") == "integration"
    assert tier_of(TESTS / "conftest.py") is None
    assert tier_of(TESTS / "fixtures" / "pii_seeds" / "kisisel.yaml") is None


def test_this_module_carries_the_unit_marker(request):
    assert request.node.get_closest_marker("unit") is not None
    assert request.node.get_closest_marker("slow") is None
