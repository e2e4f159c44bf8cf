"""A broken seed file, as a user meets it at the command line: `anka-refinery build` in its own process,
three seed files of which one is broken YAML. The broken domain fails with its file:line:column; the
other domains, the release, the adapter and the evaluation are built from what is stored; the exit code
says that something failed."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO, SMALL_SEEDS, write_seed

pytestmark = [pytest.mark.slow, pytest.mark.extra("train")]
BIN = Path(sys.executable).parent

#: The quote opened at line 4, column 18 is never closed: PyYAML notices only at the end of the file.
BROKEN = """\
domain: cografya
label: "Coğrafya"
tasks:
  - instruction: "Karadeniz Bölgesi'nde yağış rejiminin yıl içindeki dağılımını açıklayınız.
    sensitivity: public
  - instruction: Ege Bölgesi'nde zeytin tarımının iklimle ilişkisini açıklayınız.
    sensitivity: public
"""


def domains_of(con, table: str) -> set[str]:
    return {d for (d,) in con.execute(f"select distinct domain from anka.{table}").fetchall()}


def test_a_broken_seed_file_fails_its_own_domain_only(tmp_path):
    seeds = tmp_path / "seeds"
    # hukuk names its label; tarih does not (its default is the key, capitalised).
    write_seed(seeds, "hukuk", SMALL_SEEDS["hukuk"].replace("domain: hukuk", 'domain: hukuk\n        label: "Hukuk ve Yargı"'))
    write_seed(seeds, "tarih", SMALL_SEEDS["tarih"])
    (seeds / "cografya.yaml").write_text(BROKEN, encoding="utf-8")
    shutil.copy(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANKA_", "DAGSTER_"))}
    env.update(DAGSTER_HOME=str(tmp_path), ANKA_DATA_DIR=str(tmp_path), ANKA_SEEDS_DIR=str(seeds),
               ANKA_DUCKDB_PATH=str(tmp_path / "warehouse.duckdb"))

    proc = subprocess.run([str(BIN / "anka-refinery"), "build"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-3000:]
    assert "cografya.yaml:4:18" in output, output[-3000:]  # where the quote opens, as an editor shows it

    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        for table in ("curated_seeds", "seed_tasks", "raw_cot", "judged_cot", "eval_tasks", "sft_dataset",
                      "sft_export"):
            assert domains_of(con, table) == {"hukuk", "tarih"}, table
        # The label read once from the file travels with the rows, up to the release's table.
        for table in ("seed_tasks", "raw_cot", "judged_cot", "sft_export"):
            labels = dict(con.execute(f"select distinct domain, domain_label from anka.{table}").fetchall())
            assert labels == {"hukuk": "Hukuk ve Yargı", "tarih": "Tarih"}, table
        # The cross-domain stages ran on the good domains: an adapter (on the toy base, whose tokenizer
        # reads no seed file) trained on the release, and its evaluation.
        (release,) = con.execute("select distinct release_version from anka.sft_export").fetchone()
        adapter_dir, adapter_release = con.execute("select adapter_dir, release_version from anka.lora_adapter").fetchone()
        evaluated = {d for (d,) in con.execute("select distinct domain from anka.student_eval").fetchall()}
    assert adapter_release == release and Path(adapter_dir, "adapter_config.json").is_file()
    assert {"hukuk", "tarih"} <= evaluated and "cografya" not in evaluated
