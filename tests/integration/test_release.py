"""eval_tasks → sft_dataset → sft_export for real: Dagster `materialize` over a temporary DuckDB file with
teacher and judge simulators on 127.0.0.1, then the release loaded back with `datasets`."""

import json
from pathlib import Path

import polars as pl
import pytest
from dagster import DagsterInstance, materialize

from anka_assets.definitions import build_definitions
from anka_assets.release import chat_problems
from anka_assets.resources import RefineryPaths
from anka_testkit.simulator import SimulatorServer
from anka_assets.text.pii import find_pii
from tests.conftest import read_table
from tests.integration.test_distillation import endpoint

UPSTREAM = ["curated_seeds", "expanded_tasks", "seed_tasks", "raw_cot", "judged_cot"]
DOMAIN_ASSETS = [*UPSTREAM, "eval_tasks", "sft_dataset"]


@pytest.fixture
def sims():
    with SimulatorServer() as teacher, SimulatorServer() as judge:
        yield endpoint("teacher", teacher), endpoint("judge", judge)


@pytest.fixture
def paths(refinery, tmp_path) -> RefineryPaths:
    return refinery.model_copy(update={"exports_dir": str(tmp_path / "exports")})


def build(paths, sims, *, domains=("hukuk", "tarih"), samples=2, expand_to=8, sft=None, export=None,
          evals=None, raise_on_error=True, domain_selection=DOMAIN_ASSETS, instance=None):
    defs = build_definitions(paths, teacher=sims[0], judge=sims[1])
    instance = instance or DagsterInstance.ephemeral()  # one instance: sft_export reads what raw_cot recorded
    ops = {
        "expanded_tasks": {"config": {"target_per_domain": expand_to}},
        "raw_cot": {"config": {"samples_per_task": samples}},
        "eval_tasks": {"config": evals or {}},
        "sft_dataset": {"config": {"validation_share": 0.3, **(sft or {})}},
    }
    for domain in domains:
        assert materialize(list(defs.assets), selection=domain_selection, partition_key=domain, resources=defs.resources,
                           run_config={"ops": {k: v for k, v in ops.items() if k in domain_selection}},
                           instance=instance).success
    return materialize(list(defs.assets), selection=["sft_export"], resources=defs.resources, instance=instance,
                       run_config={"ops": {"sft_export": {"config": export or {}}}}, raise_on_error=raise_on_error)


def checks(result) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def test_release_is_written_loaded_and_stable(paths, sims):
    import datasets

    result = build(paths, sims)
    assert result.success and checks(result) == {"valid_chats": True, "no_personal_data": True, "no_eval_overlap": True}
    meta = result.asset_materializations_for_node("sft_export")[0].metadata
    version = meta["release_version"].value
    release = Path(paths.exports_dir) / version
    assert meta["written"].value and release.is_dir()
    for name in ("train.jsonl", "validation.jsonl", "eval.jsonl", "prompt_completion/train.jsonl",
                 "prompt_completion/validation.jsonl", "parquet/train.parquet", "parquet/validation.parquet",
                 "parquet/eval.parquet", "README.md", "release.json", "hf/dataset_dict.json"):
        assert (release / name).is_file(), name

    dd = datasets.load_from_disk(str(release / "hf"))
    assert set(dd) == {"train", "validation", "eval"} and len(dd["train"]) > 0 and len(dd["validation"]) > 0
    train = datasets.load_dataset("json", data_files=str(release / "train.jsonl"), split="train")
    pc = datasets.load_dataset("json", data_files=str(release / "prompt_completion" / "train.jsonl"), split="train")
    ev = datasets.load_dataset("json", data_files=str(release / "eval.jsonl"), split="train")
    assert len(train) == len(pc) == len(dd["train"])
    for row, pcrow in zip(train, pc):
        assert not chat_problems(row["messages"])
        assert row["messages"][-1]["content"].startswith("<think>\n") and "\n</think>\n\n" in row["messages"][-1]["content"]
        assert pcrow["prompt"] + pcrow["completion"] == row["messages"]
        assert {"domain", "seed_id", "sample_index", "teacher_model", "judge_model", "dogruluk",
                "kulturel_uygunluk", "completion_tokens", "content_hash"} <= set(row)
    eval_ids = set(read_table(paths, "eval_tasks")["seed_id"])
    assert set(ev["seed_id"]) == eval_ids and eval_ids.isdisjoint(train["seed_id"])
    assert any(r is not None for r in ev["reference"])
    assert set(pl.read_parquet(release / "parquet" / "train.parquet")["content_hash"]) == set(train["content_hash"])

    manifest = json.loads((release / "release.json").read_text(encoding="utf-8"))
    assert manifest["version"] == version and "train.jsonl" in manifest["files"]
    card = (release / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\nlicense: apache-2.0\nlanguage:\n- tr\n") and "load_from_disk" in card
    assert "made by the built-in simulator" in card  # the offline demo's release says what it is
    for needle in ("doğruluk", "teacher-model", "judge-model", "temperature", "word_ngram", "blocked_teacher"):
        assert needle in card, needle

    table = read_table(paths, "sft_export")
    assert set(table["release_version"]) == {version} and set(table["release_dir"]) == {str(release.resolve())}
    assert (table["split"] == "train").sum() == len(train) and (table["split"] == "eval").sum() == len(ev)

    # A second build with nothing changed: same version, no file rewritten.
    mtimes = {p: p.stat().st_mtime_ns for p in release.rglob("*")}
    again = build(paths, sims)
    meta2 = again.asset_materializations_for_node("sft_export")[0].metadata
    assert meta2["release_version"].value == version and not meta2["written"].value
    assert {p: p.stat().st_mtime_ns for p in release.rglob("*")} == mtimes
    assert [p.name for p in Path(paths.exports_dir).iterdir()] == [version]


CONTAMINATION_SEEDS = """
domain: tarih
tasks:
  - instruction: "Anadolu Selçuklu Devleti'nin yıkılış sürecini sosyo-ekonomik açıdan analiz ediniz."
    sensitivity: public
  - instruction: "Anadolu Selçuklu Devleti'nin yıkılış sürecini sosyo-ekonomik açıdan analiz ediniz ve Moğol istilasının payını tartışınız."
    sensitivity: public
  - instruction: "Tanzimat Fermanı ile Islahat Fermanı'nı gayrimüslimlere tanınan haklar bakımından karşılaştırınız."
    sensitivity: public
  - instruction: "Lale Devri'nin kültürel yeniliklerini ve Patrona Halil İsyanı'nın nedenlerini açıklayınız."
    sensitivity: public
"""


def test_contamination_is_removed_and_each_blocking_check_withholds_the_release(tmp_path, sims):
    from anka_assets.cleaning import select_eval
    from anka_assets.seed_loader import load_seed_file
    from tests.conftest import write_seed

    seeds = tmp_path / "seeds"
    write_seed(seeds, "tarih", CONTAMINATION_SEEDS)
    tasks = load_seed_file(seeds / "tarih.yaml").tasks
    ids = [t.seed_id for t in tasks]
    # A salt under which exactly the short task is held out, so its longer variant is a training row.
    salt = next(f"t{i}" for i in range(200) if select_eval(ids, 0.0, 1, f"t{i}") == {ids[0]})
    paths = RefineryPaths(seeds_dir=str(seeds), reviews_dir=str(tmp_path / "r"), review_queue_dir=str(tmp_path / "q"),
                          warehouse=str(tmp_path / "w.duckdb"), exports_dir=str(tmp_path / "exports"))
    evals = {"share": 0.0, "min_per_domain": 1, "salt": salt}
    result = build(paths, sims, domains=("tarih",), samples=1, expand_to=0, evals=evals, sft={"validation_share": 0.0})
    assert result.success and all(checks(result).values())
    meta = result.asset_materializations_for_node("sft_export")[0].metadata
    assert meta["dropped_contaminated"].value == 1
    release = Path(paths.exports_dir) / meta["release_version"].value
    train = [json.loads(line) for line in (release / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    assert ids[1] not in {r["seed_id"] for r in train} and ids[0] not in {r["seed_id"] for r in train}
    sft_meta = read_table(paths, "sft_dataset")
    assert ids[1] in set(sft_meta["seed_id"])  # sft_dataset kept it; the export's decontamination removed it

    defs = build_definitions(paths, teacher=sims[0], judge=sims[1])
    for config, failing in (({"decontaminate": False}, "no_eval_overlap"),
                            ({"system_prompt": "   "}, "valid_chats"),
                            ({"system_prompt": "Sorular için 0532 123 45 67 numaralı hattı arayın."}, "no_personal_data")):
        bad = materialize(list(defs.assets), selection=["sft_export"], resources=defs.resources,
                          run_config={"ops": {"sft_export": {"config": config}}}, raise_on_error=False)
        outcome = checks(bad)
        assert outcome[failing] is False and sum(not v for v in outcome.values()) == 1, (config, outcome)
        bad_meta = bad.asset_materializations_for_node("sft_export")[0].metadata
        assert bad_meta["withheld"].value and not bad_meta["written"].value
        assert not (Path(paths.exports_dir) / bad_meta["release_version"].value).exists()
    assert [p.name for p in Path(paths.exports_dir).iterdir()] == [release.name]  # nothing else was written


def test_sft_dataset_metadata_counts_every_drop_reason(paths, sims):
    from anka_assets.cleaning import DROP_REASONS

    defs = build_definitions(paths, teacher=sims[0], judge=sims[1])
    result = materialize(list(defs.assets), selection=DOMAIN_ASSETS, partition_key="hukuk", resources=defs.resources,
                         run_config={"ops": {"raw_cot": {"config": {"samples_per_task": 2}},
                                             "expanded_tasks": {"config": {"target_per_domain": 6}}}})
    meta = result.asset_materializations_for_node("sft_dataset")[0].metadata
    counts = {r: meta[f"dropped_{r}"].value for r in DROP_REASONS if r != "contaminated"}
    judged = read_table(paths, "judged_cot")
    kept = read_table(paths, "sft_dataset")
    assert sum(counts.values()) + len(kept) == len(judged)  # every judged row is kept or counted once
    assert counts["eval_task"] >= 2 and counts["not_best_sample"] >= 1
    assert "| reason | rows |" in meta["dropped"].value
    assert not find_pii("\n".join(kept["answer"].to_list() + kept["instruction"].to_list()))


CARD_CONFIGS = {"default": ("train.jsonl", "validation.jsonl"),
                "prompt_completion": ("prompt_completion/train.jsonl", "prompt_completion/validation.jsonl"),
                "eval": ("eval.jsonl",)}


def test_card_loads_in_datasets_without_warning_and_the_funnel_adds_up(paths, sims, tmp_path):
    """`datasets.load_dataset(<release>, config)` reads the card's YAML with no warning, names the splits
    as the files are named, and the card's funnel matches the warehouse tables stage by stage."""
    import logging
    import warnings

    import datasets

    from anka_assets.release import FUNNEL_COLUMNS, funnel_problems
    from tests.conftest import write_seed

    # A third known domain that is never built: the release must say it is missing.
    write_seed(Path(paths.seeds_dir), "cografya", """
        domain: cografya
        tasks:
          - instruction: "Türkiye'nin iklim bölgelerini yağış rejimleri bakımından karşılaştırınız."
            sensitivity: public
        """)
    result = build(paths, sims, domains=("hukuk", "tarih"), samples=2, expand_to=5)
    meta = result.asset_materializations_for_node("sft_export")[0].metadata
    release = Path(paths.exports_dir) / meta["release_version"].value
    assert meta["domains_covered"].value == ["hukuk", "tarih"]
    assert meta["domains_missing"].value == {"cografya": "no stored rows"}

    records: list[logging.LogRecord] = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = records.append
    logger = logging.getLogger("datasets")
    logger.addHandler(handler)
    datasets.logging.set_verbosity_warning()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            loaded = {config: datasets.load_dataset(str(release), config, cache_dir=str(tmp_path / "hf-cache"))
                      for config in CARD_CONFIGS}
    finally:
        logger.removeHandler(handler)
    assert [r.getMessage() for r in records] == [] and [str(w.message) for w in caught] == []
    for config, names in CARD_CONFIGS.items():
        assert list(loaded[config]) == [Path(n).stem for n in names], config  # split names = file names
        for name in names:
            lines = (release / name).read_text(encoding="utf-8").splitlines()
            assert len(loaded[config][Path(name).stem]) == len(lines) > 0, name
    assert loaded["eval"]["eval"].features["reference"].dtype == "string"

    card = (release / "README.md").read_text(encoding="utf-8")
    assert "split: test" not in card and "Funnel per domain" in card
    assert "Known domains missing from this release: cografya (no stored rows)" in card

    # The funnel against the stored tables, stage by stage, and every stage = previous minus its drops.
    funnel = meta["funnel_by_domain"].value
    tables = {name: read_table(paths, name) for name in
              ("curated_seeds", "seed_tasks", "raw_cot", "judged_cot", "sft_dataset", "sft_export")}
    for domain in ("hukuk", "tarih"):
        row = funnel[domain]
        assert set(row) == set(FUNNEL_COLUMNS) and funnel_problems(row) == [], (domain, row)
        of = {name: t.filter(pl.col("domain") == domain) for name, t in tables.items()}
        judged = of["judged_cot"]
        assert row["seeds"] == len(of["curated_seeds"]) > 0
        assert (row["tasks"], row["tasks_expanded"]) == (len(of["seed_tasks"]),
                                                         int((of["seed_tasks"]["origin"] == "expanded").sum()))
        assert row["tasks_expanded"] > 0
        assert (row["chains"], row["chains_ok"]) == (len(of["raw_cot"]), int((of["raw_cot"]["status"] == "ok").sum()))
        assert row["passed"] == int(judged["passed"].sum()) > 0
        assert row["sft_rows"] == len(of["sft_dataset"]) > 0
        assert row["exported"] == int(of["sft_export"]["split"].is_in(["train", "validation"]).sum())
        assert row["held_out_eval"] == int((judged["passed"] & judged["seed_id"].is_in(
            read_table(paths, "eval_tasks")["seed_id"].implode())).sum()) > 0
    assert funnel["ALL"]["exported"] == sum(len(loaded["default"][s]) for s in ("train", "validation"))


def test_funnel_row_counts_each_chain_once_and_never_guesses_unknown_drops():
    from anka_assets.assets.sft_export import coverage
    from anka_assets.release import funnel_problems, funnel_row, funnel_total, reject_category

    assert reject_category(["low_accuracy", "personal_data"]) == "judge"
    assert reject_category(["judge_error"]) == "judge" and reject_category(["expert_reject"]) == "judge"
    assert reject_category(["personal_data", "refusal"]) == "personal_data"
    assert reject_category(["wrong_language_answer", "repetition"]) == "signals"
    judged = [("ok", True, []), ("ok", True, []), ("ok", False, ["low_accuracy"]), ("ok", False, ["refusal"]),
              ("ok", False, ["personal_data"]), ("failed", False, ["teacher_failed"])]
    drops = {"not_passed": 4, "eval_task": 1, "not_best_sample": 0, "pii_meaningless": 0, "exact_duplicate": 0,
             "near_duplicate": 0}
    row = funnel_row(seeds=2, task_origins=["curated", "curated", "expanded"],
                     chain_statuses=["ok"] * 5 + ["failed"], judged=judged, sft_drops=drops, sft_rows=1,
                     export_drops={"contaminated": 1}, exported=0)
    assert (row["chains_failed"], row["rejected_judge"], row["rejected_signals"], row["rejected_personal_data"],
            row["passed"], row["held_out_eval"], row["contaminated"]) == (1, 1, 1, 1, 2, 1, 1)
    assert funnel_problems(row) == []
    assert funnel_problems({**row, "sft_rows": 2}) == [
        "passed 2 != held_out_eval + not_best_sample + dropped_personal_data + dropped_duplicates + sft_rows (3)",
        "sft_rows 2 != export_duplicates + contaminated + exported (1)"]
    unknown = funnel_row(seeds=2, task_origins=[], chain_statuses=[], judged=[], sft_drops=None, sft_rows=1,
                         export_drops={}, exported=1)
    assert unknown["held_out_eval"] is None and funnel_problems(unknown) == []  # unknown parts are not summed
    assert funnel_total({"a": row, "b": unknown})["held_out_eval"] is None
    assert funnel_total({"a": row, "b": row})["passed"] == 4
    assert coverage(["a", "b", "c"], {"a": row, "b": {**row, "exported": 3}}) == (
        ["b"], {"a": "every row dropped at export", "c": "no stored rows"})
