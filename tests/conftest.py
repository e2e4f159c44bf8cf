"""Shared fixtures: a throw-away refinery (seeds folder, warehouse file) and Dagster helpers."""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

import duckdb
import polars as pl
import pytest

from anka_assets.resources import RefineryPaths

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def write_seed(folder: Path, domain: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{domain}.yaml"
    path.write_text(textwrap.dedent(body).lstrip(), encoding="utf-8")
    return path


SMALL_SEEDS = {
    "hukuk": """
        domain: hukuk
        tasks:
          - instruction: "Türk Borçlar Kanunu'na göre borçlu temerrüdünün şartlarını açıklayınız."
            sensitivity: public
            tags: [borclar_hukuku, aciklama]
            source: "6098 sayılı TBK m. 117"
          - instruction: "Anayasa Mahkemesi'ne bireysel başvurunun kabul edilebilirlik şartlarını açıklayınız."
            sensitivity: public
            tags: [anayasa, aciklama]
          - instruction: "Kurumumuzun iç yönetmeliğine göre disiplin soruşturmasının aşamalarını değerlendiriniz."
            sensitivity: internal
            tags: [idare, analiz]
        """,
    "tarih": """
        domain: tarih
        tasks:
          - instruction: "Anadolu Selçuklu Devleti'nin yıkılış sürecini sosyo-ekonomik açıdan analiz ediniz."
            sensitivity: public
            tags: [selcuklu, analiz]
          - instruction: "Tanzimat Fermanı ile Islahat Fermanı'nı gayrimüslimlere tanınan haklar bakımından karşılaştırınız."
            sensitivity: public
            tags: [osmanli, karsilastirma]
        """,
}


@pytest.fixture
def refinery(tmp_path: Path) -> RefineryPaths:
    """A refinery in tmp_path with two small domains (hukuk: 3 tasks, tarih: 2 tasks)."""
    seeds = tmp_path / "seeds"
    for domain, body in SMALL_SEEDS.items():
        write_seed(seeds, domain, body)
    return RefineryPaths(
        seeds_dir=str(seeds),
        reviews_dir=str(tmp_path / "reviews"),
        review_queue_dir=str(tmp_path / "review_queue"),
        warehouse=str(tmp_path / "warehouse.duckdb"),
    )


def read_table(paths: RefineryPaths, table: str) -> pl.DataFrame:
    with duckdb.connect(paths.warehouse, read_only=True) as con:
        return con.execute(f"select * from anka.{table}").pl()


def copy_repo_seeds(dest: Path, domains: list[str]) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for domain in domains:
        shutil.copy(REPO / "data" / "seeds" / f"{domain}.yaml", dest / f"{domain}.yaml")


#: What each `extra(name)` marker needs importable: the project's optional extras (pyproject.toml).
EXTRAS = {"train": ("torch", "transformers", "peft", "trl", "accelerate"), "turkishmmlu": ("lm_eval",)}


def missing_modules(extra: str) -> list[str]:
    import importlib.util

    return [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]


#: The tiers: each test module's folder under tests/ is its marker (`pytest -m "not slow"`, `-m unit`).
TIERS = ("unit", "integration", "slow")


def tier_of(path: Path) -> str | None:
    """The tier of a test file: the first folder under tests/ when it is one of TIERS."""
    parts = Path(path).resolve().relative_to(Path(__file__).resolve().parent).parts
    return parts[0] if len(parts) > 1 and parts[0] in TIERS else None


def pytest_collection_modifyitems(config, items):
    """Each test gets its tier's marker from its folder (tests/unit, tests/integration, tests/slow).
    `extra(name)` tests skip, saying what to install, where that extra is missing — except in CI
    (CI=true), which installs every extra: there a missing one must fail, never skip silently.
    `require_cuda` tests run only where torch sees a CUDA GPU (the `gpu` extra's machines)."""
    import os

    for item in items:
        tier = tier_of(item.path)
        if tier:
            item.add_marker(getattr(pytest.mark, tier))
        for mark in item.iter_markers("extra"):
            missing = missing_modules(mark.args[0])
            if missing and os.environ.get("CI") != "true":
                item.add_marker(pytest.mark.skip(
                    reason=f"needs the `{mark.args[0]}` extra ({', '.join(missing)} missing): "
                    f"pip install -e '.[{mark.args[0]}]'"))
    from anka_assets.student.deps import cuda_available

    if any("require_cuda" in item.keywords for item in items) and not cuda_available():
        skip = pytest.mark.skip(reason="needs a CUDA GPU and the `gpu` extra (pip install -e '.[gpu]')")
        for item in items:
            if "require_cuda" in item.keywords:
                item.add_marker(skip)


@pytest.fixture
def project(tmp_path):
    """A throw-away project for the CLI in a subprocess: the small seeds, the repository's dagster.yaml in
    its own DAGSTER_HOME, and an environment pointing every ANKA_ path there (nothing inherited)."""
    for domain, body in SMALL_SEEDS.items():
        write_seed(tmp_path / "seeds", domain, body)
    shutil.copy(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANKA_", "DAGSTER_"))}
    env.update(DAGSTER_HOME=str(tmp_path), ANKA_DATA_DIR=str(tmp_path), ANKA_SEEDS_DIR=str(tmp_path / "seeds"),
               ANKA_DUCKDB_PATH=str(tmp_path / "warehouse.duckdb"))
    return tmp_path, env


@pytest.fixture
def teacher_sim():
    """A simulator on 127.0.0.1 standing in for the teacher (its own server, its own stats)."""
    from anka_testkit.simulator import SimulatorServer

    with SimulatorServer() as sim:
        yield sim


@pytest.fixture
def judge_sim():
    """A second simulator standing in for the judge."""
    from anka_testkit.simulator import SimulatorServer

    with SimulatorServer() as sim:
        yield sim


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL cluster for the session (tests/pg.py). Skipped where PostgreSQL is not
    installed, except under CI (CI=true), where that is a failure: `.ci/postgres.sh` installs it."""
    from tests.pg import PostgresCluster, pg_bin_dir

    ci = os.environ.get("CI", "").lower() == "true"
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        message = "PostgreSQL is not installed (no initdb): run `bash .ci/postgres.sh`"
        if ci:
            pytest.fail(message)
        pytest.skip(message)
    import tempfile

    # Not under pytest's tmp dir: that is private to root, and the server runs as `postgres`.
    root = Path(tempfile.mkdtemp(prefix="anka-pg-"))
    cluster = PostgresCluster(root=root, bin=bin_dir)
    try:
        cluster.init()
        cluster.start()
    except Exception as exc:  # noqa: BLE001
        message = f"could not start a throwaway PostgreSQL in {root}: {exc}"
        if ci:
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield cluster
    finally:
        try:
            cluster.stop("immediate")
        except Exception:  # noqa: BLE001  (already down)
            pass
        shutil.rmtree(root, ignore_errors=True)
