"""One configuration model: every ANKA_* setting typed in one place, checked when the definitions load,
secrets never shown (repr, the UI's resource config, errors)."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from anka_assets import settings
from anka_assets.definitions import build_definitions
from anka_assets.gateway import ModelEndpoint
from anka_assets.resources import RefineryPaths
from anka_assets.settings import SettingsError

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "hunter2-secret"
LAKE = f"ducklake:postgres:dbname=anka host=db user=anka password={PASSWORD}"


def test_defaults_follow_the_data_dir_and_blank_is_unset(tmp_path):
    env = {"ANKA_DATA_DIR": str(tmp_path), "ANKA_REVIEWS_DIR": "  ", "ANKA_EXPORTS_DIR": "/srv/exports"}
    assert settings.value("ANKA_SEEDS_DIR", env) == tmp_path / "seeds"
    assert settings.value("ANKA_REVIEWS_DIR", env) == tmp_path / "reviews"
    assert settings.value("ANKA_EXPORTS_DIR", env) == Path("/srv/exports")
    assert settings.value("ANKA_WAREHOUSE_LOCK_WAIT_S", {}) == 300.0
    assert settings.value("ANKA_WAREHOUSE_CONFLICT_RETRIES", {"ANKA_WAREHOUSE_CONFLICT_RETRIES": "5"}) == 5


def test_every_invalid_setting_is_named_with_its_allowed_values():
    env = {"ANKA_WAREHOUSE_LOCK_WAIT_S": "-1", "ANKA_PROGRESS_EVERY_S": "often", "ANKA_LOCK_REPORT_EVERY_S": "nan",
           "ANKA_WAREHOUSE_CONFLICT_RETRIES": "2.5"}
    with pytest.raises(SettingsError) as err:
        settings.validate_environment(env)
    text = str(err.value)
    for variable, raw in env.items():
        assert f"{variable}={raw!r} is not valid; allowed values:" in text
    settings.validate_environment({})  # nothing set: every default is valid


def test_a_secret_setting_is_never_echoed():
    with pytest.raises(SettingsError, match="ANKA_WAREHOUSE=<hidden> is not valid") as err:
        settings.value("ANKA_WAREHOUSE", {"ANKA_WAREHOUSE": f"ducklake:mysql:password={PASSWORD}"})
    assert PASSWORD not in str(err.value)


@pytest.mark.parametrize("variable, raw", [("ANKA_TEACHER_TIMEOUT_S", "soon"), ("ANKA_JUDGE_BACKEND", "grpc"),
                                           ("ANKA_PROGRESS_EVERY_S", "-3")])
def test_a_bad_value_fails_the_load_naming_its_variable(monkeypatch, refinery, variable, raw):
    monkeypatch.setenv(variable, raw)
    with pytest.raises(SettingsError, match=f"the code location cannot load: .*{variable}={raw!r} is not valid"):
        build_definitions(refinery)


def test_importing_the_definitions_with_a_bad_value_is_one_clear_error(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ANKA_DATA_DIR": str(tmp_path),
           "ANKA_TEACHER_MAX_CONCURRENCY": "many", "ANKA_TEACHER_API_KEY": PASSWORD}
    out = subprocess.run([sys.executable, "-c", "import anka_assets.definitions"], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=300)
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("anka_assets.settings.SettingsError: the code location cannot load:"), last
    assert "ANKA_TEACHER_MAX_CONCURRENCY='many' is not valid; allowed values: an integer >= 1" in last
    assert PASSWORD not in out.stderr


def test_a_warehouse_password_stays_out_of_repr_and_the_resource_config(monkeypatch, refinery, tmp_path):
    monkeypatch.setenv("ANKA_WAREHOUSE", LAKE)
    monkeypatch.setenv("ANKA_WAREHOUSE_DATA_PATH", str(tmp_path / "lake"))
    monkeypatch.setenv("ANKA_SEEDS_DIR", refinery.seeds_dir)
    defs = build_definitions()
    paths = defs.resources["paths"]
    assert paths.warehouse_target == LAKE  # what the CLI and the load see
    assert PASSWORD not in repr(paths) and PASSWORD not in repr(defs.resources["io_manager"])
    assert PASSWORD not in repr(RefineryPaths(**{**refinery.model_dump(), "warehouse": LAKE}))

    from dagster._core.remote_representation.external_data import RepositorySnap

    snap = RepositorySnap.from_def(defs.get_repository_def())  # what the UI shows of each resource
    shown = {r.name: r.configured_values for r in snap.resources}
    assert shown["paths"]["warehouse"].name == "ANKA_WAREHOUSE"
    assert shown["io_manager"]["database"].name == "ANKA_WAREHOUSE"
    assert PASSWORD not in repr(shown)


def test_the_warehouse_env_var_is_resolved_inside_a_run(monkeypatch, refinery):
    monkeypatch.setenv("ANKA_WAREHOUSE", refinery.warehouse)  # a DuckDB file given as ANKA_WAREHOUSE
    paths = RefineryPaths.from_env()
    assert isinstance(paths.warehouse, dg.EnvVar)
    seen = []

    @dg.asset
    def probe(paths: RefineryPaths) -> None:
        seen.append(paths.warehouse)

    assert dg.materialize([probe], resources={"paths": paths}).success
    assert seen == [refinery.warehouse]


def test_an_endpoint_url_password_is_not_copied_into_config_or_repr(monkeypatch):
    monkeypatch.setenv("ANKA_TEACHER_BASE_URL", f"http://anka:{PASSWORD}@10.0.0.5:8000/v1")
    monkeypatch.setenv("ANKA_TEACHER_MODEL", "m")
    endpoint = ModelEndpoint.from_env("teacher")
    assert endpoint.base_url == "" and PASSWORD not in repr(endpoint)
    resolved = endpoint.settings()  # read from the variable when used
    assert resolved.base_url.endswith("@10.0.0.5:8000/v1") and PASSWORD not in repr(resolved)
    assert resolved.endpoint == "http://10.0.0.5:8000"
    typed = ModelEndpoint(role="teacher", base_url=f"http://anka:{PASSWORD}@10.0.0.5:8000/v1", model="m")
    assert PASSWORD not in repr(typed) and PASSWORD not in str(typed)
