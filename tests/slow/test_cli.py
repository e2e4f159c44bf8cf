"""The command line, as a user runs it: `anka-refinery build` and a `dagster asset materialize`
backfill of two partitions, each in its own processes against a persistent Dagster instance."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.extra("train")]
BIN = Path(sys.executable).parent


def run(cmd, env, cwd):
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def counts(db: Path, table: str) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        return dict(con.execute(f"select domain, count(*) from anka.{table} group by 1").fetchall())


def test_build_command_materializes_every_asset_of_every_domain(project):
    root, env = project
    proc = run([str(BIN / "anka-refinery"), "build"], env, root)
    assert "[ok] hukuk" in proc.stdout and "[ok] tarih" in proc.stdout
    db = root / "warehouse.duckdb"
    tasks = counts(db, "seed_tasks")
    assert 3 < tasks["hukuk"] <= 120 and 2 < tasks["tarih"] <= 120  # expanded toward the default target
    assert counts(db, "judged_cot") == counts(db, "raw_cot") == tasks
    assert (root / "review_queue" / "hukuk.csv").exists()
    # ... and the chain up to the release: eval tasks, cleaned rows, the versioned export.
    assert set(counts(db, "eval_tasks")) == set(counts(db, "sft_dataset")) == {"hukuk", "tarih"}
    with duckdb.connect(str(db), read_only=True) as con:
        version, release_dir = con.execute("select distinct release_version, release_dir from anka.sft_export").fetchone()
    assert release_dir == str((root / "exports" / version).resolve()) and f"release {version}: {release_dir}" in proc.stdout
    assert (root / "exports" / version / "hf" / "dataset_dict.json").is_file()
    # ... the student: an adapter trained on that release and its evaluation.
    with duckdb.connect(str(db), read_only=True) as con:
        (adapter_dir,) = con.execute("select adapter_dir from anka.lora_adapter").fetchone()
        evaluated = {r[0] for r in con.execute("select distinct domain from anka.student_eval").fetchall()}
    assert Path(adapter_dir, "adapter_config.json").is_file() and {"hukuk", "tarih"} <= evaluated
    # ... both read like finished products, as a user meets them in a fresh process: the release loads in
    # `datasets` with no warning and splits named as its files, the adapter loads with PEFT from a copy of
    # the adapters folder, and its card carries the evaluation.
    copy = root / "elsewhere" / "adapters"
    shutil.copytree(Path(adapter_dir).parent, copy)
    user = (
        "import logging, sys, warnings\n"
        "import datasets, torch, transformers; from peft import PeftModel\n"
        "warnings.simplefilter('error')  # any warning while the release loads fails the check\n"
        "from anka_assets.student.model_card import resolve_base\n"
        "logging.getLogger('datasets').addHandler(type('H', (logging.Handler,), "
        "{'emit': lambda self, r: sys.exit('datasets logged: ' + r.getMessage())})(logging.WARNING))\n"
        "release, adapter = sys.argv[1], sys.argv[2]\n"
        "for config, splits in (('default', ['train', 'validation']), ('eval', ['eval'])):\n"
        "    dd = datasets.load_dataset(release, config, cache_dir=sys.argv[3])\n"
        "    assert list(dd) == splits, (config, list(dd))\n"
        "warnings.resetwarnings()\n"
        "base = transformers.AutoModelForCausalLM.from_pretrained(resolve_base(adapter), dtype=torch.float32)\n"
        "model = PeftModel.from_pretrained(base, adapter)\n"
        "print('loaded', type(model).__name__, len(dd['eval']))\n"
    )
    moved = copy / Path(adapter_dir).name
    loaded = run([sys.executable, "-c", user, release_dir, str(moved), str(root / "hf-cache")], env, root)
    assert loaded.stdout.startswith("loaded PeftModel"), loaded.stdout + loaded.stderr
    card = (moved / "README.md").read_text(encoding="utf-8")
    assert "**TOY MODEL.**" in card and f"held-out tasks of release `{version}`" in card and "Verdict:" in card
    # The summary: one line per domain (tasks, ok rows, pass rate, calls, ...) and where things went.
    out = proc.stdout.splitlines()
    header = next(i for i, line in enumerate(out) if line.startswith("domain") and "pass rate" in line)
    table = out[header:header + 4]
    assert all(len(line) <= 100 for line in table)
    hukuk = next(line.split() for line in table if line.startswith("hukuk"))
    assert int(hukuk[1]) == tasks["hukuk"] and hukuk[3].endswith("%")
    assert "LoRA adapter" in proc.stdout and Path(adapter_dir).name in proc.stdout and "review CSVs" in proc.stdout
    # Quiet: no library chatter (tqdm bars, FutureWarnings), no Dagster notices about policies or betas.
    noise = ("Warning:", "backfill policies", "it/s]", "examples/s]", "Traceback")
    assert not [n for n in noise if n in proc.stdout + proc.stderr], (proc.stdout + proc.stderr)[-3000:]
    # The runs are in the instance that `dagster dev` shows.
    assert any((root / "history" / "runs").iterdir())  # under DAGSTER_HOME itself

    proc = subprocess.run([str(BIN / "anka-refinery"), "build", "--domain", "yok"], env=env, cwd=root,
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown domain(s): yok" in proc.stderr


@pytest.fixture
def faulty_simulator(tmp_path):
    """A simulator in its own process with faults switched on, as a separate server would be."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "anka_testkit.simulator", "--port", "0", "--rate-429", "0.1", "--retry-after", "0.1",
         "--rate-500", "0.1", "--rate-malformed", "0.1", "--seed", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        line = proc.stdout.readline()
        assert "listening on" in line, line
        yield line.strip().split()[-1]  # the base URL
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_dagster_cli_backfill_of_two_partitions(project, faulty_simulator):
    root, env = project
    for role in ("TEACHER", "JUDGE"):
        env[f"ANKA_{role}_BASE_URL"] = faulty_simulator
        env[f"ANKA_{role}_LOCALITY"] = "local"
        env[f"ANKA_{role}_MODEL"] = f"{role.lower()}-model"
    dagster = str(BIN / "dagster")
    small = json.dumps({"ops": {"expanded_tasks": {"config": {"target_per_domain": 4}}}})
    for domain in ("hukuk", "tarih"):
        run([dagster, "asset", "materialize", "-m", "anka_assets.definitions", "--select",
             "curated_seeds,expanded_tasks,seed_tasks", "--partition", domain, "--config-json", small], env, root)
    # One run over the partition range: the model-bound assets load their endpoint once for both domains.
    run([dagster, "asset", "materialize", "-m", "anka_assets.definitions", "--select", "raw_cot,judged_cot",
         "--partition-range", "hukuk...tarih"], env, root)
    db = root / "warehouse.duckdb"
    assert counts(db, "seed_tasks") == {"hukuk": 4, "tarih": 4}
    assert counts(db, "raw_cot") == counts(db, "judged_cot") == {"hukuk": 4, "tarih": 4}
    with duckdb.connect(str(db), read_only=True) as con:
        audit = {(a, p): n for a, p, n in con.execute(
            "select asset, partition, count(*) from anka.model_audit group by 1, 2").fetchall()}
    # One audit row per request: 4 first asks per domain, plus re-asks of malformed answers.
    assert audit[("raw_cot", "hukuk")] >= 4 and audit[("raw_cot", "tarih")] >= 4
    assert audit[("judged_cot", "hukuk")] >= 1 and audit[("judged_cot", "tarih")] >= 1
    with duckdb.connect(str(db), read_only=True) as con:
        statuses = dict(con.execute("select status, count(*) from anka.raw_cot group by 1").fetchall())
        faults = con.execute("select count(*) from anka.model_audit where attempts > 1").fetchone()[0]
    assert statuses.get("ok", 0) >= 6 and set(statuses) <= {"ok", "parse_error", "failed"}
    assert faults > 0  # the injected 429/500 answers were retried


def test_missing_seeds_folder_is_one_line_and_exit_2(project):
    root, env = project
    env = {**env, "ANKA_SEEDS_DIR": str(root / "no_such_folder")}
    proc = subprocess.run([str(BIN / "anka-refinery"), "build"], env=env, cwd=root, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    assert f"seeds folder {root / 'no_such_folder'} does not exist" in proc.stderr
    assert "ANKA_SEEDS_DIR" in proc.stderr and "Traceback" not in proc.stderr + proc.stdout


def test_dg_cli_checks_and_launches_a_partition(project):
    """Dagster 1.13's `dg` works in this project: `dg check defs`, `dg launch --assets ... --partition`."""
    root, env = project
    run([str(BIN / "dg"), "check", "defs"], env, REPO)
    run([str(BIN / "dg"), "launch", "--assets", "curated_seeds", "--partition", "tarih"], env, REPO)
    assert counts(root / "warehouse.duckdb", "curated_seeds") == {"tarih": 2}
