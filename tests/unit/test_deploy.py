"""deploy/: the PostgreSQL instance file, the executors' run configs and the Helm values are checked
against Dagster's own config schemas (no cluster needed): the definitions load with each executor,
each executor's config validates for the real `domain_build` job, the instance file validates, the
Helm values carry the same queue limits, and the vLLM replica list reaches the gateway."""

from pathlib import Path

import pytest
import yaml
from dagster import validate_run_config

from anka_assets.definitions import build_definitions
from anka_assets.gateway.endpoint import EndpointSettings
from anka_assets.jobs import CROSS_DOMAIN_JOB, DOMAIN_JOB, EXCLUSIVE_TAG, executor_from_env

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["k8s", "celery", "docker"])
def test_definitions_load_with_each_executor_and_its_config_validates(name, refinery, monkeypatch):
    monkeypatch.setenv("ANKA_EXECUTOR", name)
    defs = build_definitions(refinery)
    job = defs.resolve_job_def(DOMAIN_JOB)
    assert job.executor_def.name == name
    assert defs.resolve_job_def(CROSS_DOMAIN_JOB).executor_def.name == name
    config = load(DEPLOY / "executors" / f"{name}.yaml")
    validate_run_config(job, config)  # raises DagsterInvalidConfigError on a wrong key or type
    broken = {"execution": {"config": {**config["execution"]["config"], "no_such_option": 1}}}
    with pytest.raises(Exception, match="no_such_option"):
        validate_run_config(job, broken)


def test_an_unknown_executor_is_one_clear_line():
    with pytest.raises(ValueError, match="ANKA_EXECUTOR='spark': choose one of in_process, k8s, celery, docker"):
        executor_from_env({"ANKA_EXECUTOR": "spark"})
    assert executor_from_env({}).name == "in_process"


def test_the_postgres_instance_file_validates(tmp_path, monkeypatch):
    from dagster._core.instance.config import dagster_instance_config
    from dagster._core.run_coordinator import QueuedRunCoordinator

    (tmp_path / "dagster.yaml").write_text((DEPLOY / "dagster-postgres.yaml").read_text())
    monkeypatch.setenv("ANKA_DAGSTER_PG_URL", "postgresql://anka@127.0.0.1:5432/dagster")
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["storage"]["postgres"]["postgres_url"] == {"env": "ANKA_DAGSTER_PG_URL"}
    queue = config["run_coordinator"]["config"]
    assert queue["max_concurrent_runs"] > 1
    limits = {limit["key"]: limit for limit in queue["tag_concurrency_limits"]}
    assert limits["dagster/partition"] == {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True},
                                           "limit": 1}
    assert limits[EXCLUSIVE_TAG]["limit"] == 1
    QueuedRunCoordinator(**queue)  # the coordinator accepts it as configured


def test_helm_values_match_the_instance_queue_and_name_the_executor():
    values = load(DEPLOY / "helm" / "values.yaml")
    instance = load(DEPLOY / "dagster-postgres.yaml")["run_coordinator"]["config"]
    queue = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert queue["tagConcurrencyLimits"] == instance["tag_concurrency_limits"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "anka_assets.definitions"]
    env = {e["name"]: e["value"] for e in deployment["env"]}
    assert env["ANKA_EXECUTOR"] == "k8s"


def test_vllm_replicas_are_the_gateways_replica_list():
    sts = [d for d in yaml.safe_load_all((DEPLOY / "k8s" / "vllm-teacher.yaml").read_text()) if d["kind"] == "StatefulSet"]
    n = sts[0]["spec"]["replicas"]
    urls = ",".join(f"http://vllm-teacher-{i}.vllm-teacher:8000/v1" for i in range(n))
    settings = EndpointSettings.from_env("teacher", {"ANKA_TEACHER_BASE_URL": urls, "ANKA_TEACHER_MODEL": "teacher",
                                                    "ANKA_TEACHER_LOCALITY": "local"})
    assert len(settings.base_urls) == n == 4
