"""`eval_tasks`: seed tasks of one domain held out for evaluation, chosen by hash, never trained on.

A task is held out when sha256(salt, seed_id) maps under `share`, topped up by lowest hash to
`min_per_domain` (never every task of a domain). The rule is versioned (`eval_version` from share,
minimum and salt): the same rule gives the same set on any machine, and adding tasks to a domain
never moves an existing task between training and evaluation. `sft_dataset` excludes these seeds,
`sft_export` decontaminates against their instructions and writes them as `eval.jsonl`.
"""

import polars as pl
from dagster import AssetExecutionContext, Config, MetadataValue, Output, PartitionsDefinition
from pydantic import Field

from anka_assets.assets import domain_table
from anka_assets.cleaning import eval_version, hash_unit, select_eval
from anka_assets.metadata import add_domain_metadata, md_preview
from anka_assets.schemas import EVAL_TASKS_DTYPES, EvalTasksType



class EvalTasksConfig(Config):
    share: float = Field(default=0.1, description="Share of each domain's seed tasks held out (by hash).")
    min_per_domain: int = Field(default=2, description="Fewest held-out tasks per domain (never all of them).")
    salt: str = Field(default="anka-eval-v1", description="Hash salt; a new salt draws a new evaluation set.")


def eval_frame(seed_tasks: pl.DataFrame, cfg: EvalTasksConfig) -> pl.DataFrame:
    chosen = select_eval(seed_tasks["seed_id"].to_list(), cfg.share, cfg.min_per_domain, cfg.salt)
    version = eval_version(cfg.share, cfg.min_per_domain, cfg.salt)
    df = seed_tasks.filter(pl.col("seed_id").is_in(sorted(chosen)))
    return pl.DataFrame({
        "seed_id": df["seed_id"], "domain": df["domain"], "instruction": df["instruction"],
        "sensitivity": df["sensitivity"], "origin": df["origin"],
        "hash_unit": [hash_unit(cfg.salt, s) for s in df["seed_id"].to_list()],
        "eval_version": [version] * len(df),
    }, schema=EVAL_TASKS_DTYPES).sort("hash_unit")


def build_eval_tasks(partitions_def: PartitionsDefinition):
    @domain_table(
        partitions_def,
        name="eval_tasks",
        dagster_type=EvalTasksType,
        group_name="release",
        description="Seed tasks held out for evaluation: a configured share chosen by hash with a minimum per "
        "domain, versioned by share, minimum and salt. Never trained on; used for decontamination and by the "
        "student evaluation.",
    )
    def eval_tasks(context: AssetExecutionContext, config: EvalTasksConfig, seed_tasks: pl.DataFrame):
        version = eval_version(config.share, config.min_per_domain, config.salt)
        frames = []
        for domain in context.partition_keys:
            tasks = seed_tasks.filter(pl.col("domain") == domain)
            df = eval_frame(tasks, config)
            frames.append(df)
            add_domain_metadata(context, domain, {
                "dagster/row_count": len(df), "seed_tasks": len(tasks),
                "preview": MetadataValue.md(md_preview(df, ["seed_id", "origin", "instruction"], n=10, width=120)),
            })
        df = pl.concat(frames) if frames else pl.DataFrame(schema=EVAL_TASKS_DTYPES)
        yield Output(df, metadata={  # the rule, the same for every domain of the run
            "eval_version": version, "share": config.share, "min_per_domain": config.min_per_domain,
        })

    return eval_tasks
