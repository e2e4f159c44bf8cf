"""One shape for every model stage: an asset that asks a model about each domain's rows.

A :class:`ModelStage` is a declaration, the way distilabel's ``Task`` is: its :class:`ModelTask`
(template, structured output, parser), which endpoint answers (``teacher`` or ``judge``, with the local
KVKK fallback teacher or not), its config class (a :class:`FailedCallsGate`), its upstream tables and
Dagster facts, and four small functions: how a domain's inputs become its *work* (``prepare``), the
work's request rows (``requests``), and how the answers become the domain's table rows and metadata
(``finish``), plus the run-wide metadata and checks. The stage owns everything else, once:

1. the gateways: the endpoint's, and the local fallback's when the stage takes one (checked to be local
   when the step starts), both opened the first time they are needed;
2. per domain of the run (``context.partition_keys``; one pass with no domain for an unpartitioned
   stage): ``prepare``, then :func:`~anka_assets.model_tasks.run_task` over the request rows (no call
   at all when there are none), the gateway's progress line being labelled ``<asset> <domain>``, and
   the domain's :class:`~anka_assets.model_calls.CallHealth` (an unpartitioned stage: one per ``domain``
   of its request rows);
3. the failed-calls gate over the whole step (:func:`~anka_assets.model_calls.gate_calls`), BEFORE any
   output row is built: over the threshold the step fails and stores nothing;
4. per domain, ``finish``: the rows, and the figures attached to that domain's partition only
   (:func:`~anka_assets.metadata.add_domain_metadata`; an unpartitioned stage's go on its ``Output``);
5. one ``Output`` of the concatenated rows with the gate's warning, the run-wide metadata and what
   produced them (``provenance.produced_with``: config, model, endpoint, template version), then the
   stage's checks.

:meth:`ModelStage.build` makes the Dagster asset: partitioned by domain through
:func:`~anka_assets.assets.domain_table` (its ``pool`` is a model lock, see ``model_lock.py``) or, with no
partitions, a plain ``@asset`` in a Dagster pool.
"""

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetsDefinition,
    Output,
    PartitionsDefinition,
    asset,
)

from anka_assets.assets import domain_table
from anka_assets.gateway import ModelGateway
from anka_assets.metadata import add_domain_metadata
from anka_assets.model_calls import Answer, CallHealth, FailedCallsGate, call_health, call_healths, gate_calls
from anka_assets.model_tasks import ModelTask, Row, TaskRun, run_task
from anka_assets.provenance import produced_with

C = TypeVar("C", bound=FailedCallsGate)
W = TypeVar("W")
T = TypeVar("T")

#: The resource holding the local KVKK fallback teacher (``fallback.TeacherFallback``).
FALLBACK_RESOURCE = "teacher_fallback"


@dataclass(frozen=True)
class Generation:
    """How a stage's config asks the model: sampling parameters, re-asks after a malformed answer, and
    whether the JSON schema is asked for (off: the tagged form)."""

    params: Mapping[str, Any]
    max_repairs: int
    structured: bool = True


@dataclass(frozen=True)
class Asked(Generic[T]):
    """One domain's model run (an unpartitioned stage: the step's) and how its calls went."""

    domain: str | None
    run: TaskRun[T]
    healths: tuple[CallHealth, ...]

    @property
    def answers(self) -> list[Answer[T]]:
        return self.run.answers

    @property
    def health(self) -> CallHealth:
        """A partitioned stage's one domain's call health."""
        return self.healths[0]


@dataclass(frozen=True)
class Finished:
    """One domain's rows and its own figures (on its partition; an unpartitioned stage's: on its Output)."""

    frame: pl.DataFrame
    metadata: Mapping[str, Any]


class StageRun:
    """One execution of a stage: the step's context, config, input tables and resources, the prompt
    template (loaded once), and the gateways, opened the first time they are needed."""

    def __init__(self, stage: "ModelStage[Any, Any, Any]", context: AssetExecutionContext, config: FailedCallsGate,
                 inputs: Mapping[str, pl.DataFrame]) -> None:
        self.stage, self.context, self.config, self.inputs = stage, context, config, dict(inputs)
        self.paths = context.resources.paths
        self.endpoint = getattr(context.resources, stage.endpoint)
        self.teacher_fallback = getattr(context.resources, FALLBACK_RESOURCE) if stage.fallback else None
        if self.teacher_fallback is not None and self.teacher_fallback.configured:
            self.teacher_fallback.check_local()
        self.template = stage.task.load_template()
        self._gateway: ModelGateway | None = None
        self._fallback: ModelGateway | None = None

    @property
    def log(self) -> Any:
        return self.context.log

    @property
    def opened(self) -> bool:
        """Whether the endpoint's gateway was opened (something was asked, or its facts were read)."""
        return self._gateway is not None

    @property
    def gateway(self) -> ModelGateway:
        if self._gateway is None:
            self._gateway = self.endpoint.open_gateway(self.paths.warehouse, log=self.log)
        return self._gateway

    @property
    def fallback(self) -> ModelGateway | None:
        """The local fallback teacher's gateway; None when the stage takes none or none is configured."""
        if self._fallback is None and self.teacher_fallback is not None and self.teacher_fallback.configured:
            self._fallback = self.teacher_fallback.open_gateway(self.paths.warehouse, log=self.log)
        return self._fallback

    def produced_with(self) -> Mapping[str, Any]:
        """What produced this run's rows (config, model, endpoint label, locality, template version, the
        fallback teacher), recorded on every partition it writes; downstream assets read it from there
        (``provenance.recorded``). Reads the endpoints' settings without opening a gateway."""
        fallback = self.teacher_fallback.settings() if self.teacher_fallback is not None and \
            self.teacher_fallback.configured else None
        return produced_with(self.config, self.endpoint.settings(), self.template.version, fallback)

    def domain_rows(self, name: str, domain: str) -> pl.DataFrame:
        """The rows of input table ``name`` that belong to ``domain``."""
        return self.inputs[name].filter(pl.col("domain") == domain)

    def ask(self, domain: str | None, rows: Sequence[Row]) -> Asked[Any]:
        """Run the stage's task over ``rows`` (no call when there are none) and judge the calls' health:
        one for ``domain``, or with no domain one per ``domain`` column of the rows."""
        gen = self.stage.generation(self.config)
        run = run_task(
            self.stage.task, self.gateway, rows, asset=self.stage.name, partition=domain,
            run_id=self.context.run_id, params=dict(gen.params), structured=gen.structured,
            max_repairs=gen.max_repairs, fallback=self.fallback, template=self.template,
        ) if rows else TaskRun([], [], self.template.version)
        threshold = self.config.max_failed_share
        healths = ((call_health(domain, run.answers, threshold),) if domain is not None
                   else tuple(call_healths([row["domain"] for row in rows], run.answers, threshold)))
        return Asked(domain, run, healths)


def _no_metadata(run: StageRun) -> Mapping[str, Any]:
    return {}


def _no_checks(run: StageRun, df: pl.DataFrame) -> Iterable[AssetCheckResult]:
    return ()


@dataclass(frozen=True)
class ModelStage(Generic[C, W, T]):
    """A model-calling asset, declared: see the module's docstring for what it does with these."""

    name: str  #: the asset (and its table)
    task: ModelTask[T]
    endpoint: str  #: the ModelEndpoint resource asked: "teacher" or "judge"
    config: type[C]
    inputs: tuple[str, ...]  #: upstream assets, handed to ``prepare`` through ``StageRun.inputs``
    generation: Callable[[C], Generation]
    prepare: Callable[[StageRun, str | None], W]  #: a domain's inputs -> its work (None: unpartitioned)
    requests: Callable[[StageRun, W], Sequence[Row]]  #: the work's request rows (with ``domain`` when unpartitioned)
    finish: Callable[[StageRun, W, Asked[T]], Finished]  #: the answers -> rows and figures
    empty: Callable[[], pl.DataFrame] = pl.DataFrame  #: the table when the run has no domain
    run_metadata: Callable[[StageRun], Mapping[str, Any]] = _no_metadata  #: run-wide facts for the Output
    checks: Callable[[StageRun, pl.DataFrame], Iterable[AssetCheckResult]] = _no_checks
    fallback: bool = False  #: KVKK-refused rows go to the local fallback teacher (resource teacher_fallback)
    pool: str | None = None  #: Dagster pool (partitioned: also the model lock); None: the endpoint's name
    asset_args: Mapping[str, Any] = field(default_factory=dict)  #: more ``@asset`` arguments

    @property
    def resource_keys(self) -> set[str]:
        return {"paths", self.endpoint, *([FALLBACK_RESOURCE] if self.fallback else [])}

    def build(self, partitions_def: PartitionsDefinition | None = None) -> AssetsDefinition:
        """The Dagster asset: partitioned by domain when ``partitions_def`` is given."""
        stage = self
        partitioned = partitions_def is not None

        def body(context: AssetExecutionContext, config, **inputs: pl.DataFrame):
            yield from stage.execute(context, config, inputs, partitioned=partitioned)

        body.__name__ = body.__qualname__ = self.name
        body.__annotations__["config"] = self.config  # Dagster reads the config class from the annotation
        args = dict(name=self.name, ins={n: AssetIn(key=AssetKey(n), dagster_type=pl.DataFrame) for n in self.inputs},
                    required_resource_keys=self.resource_keys, **self.asset_args)
        pool = self.pool or self.endpoint
        if partitioned:
            return domain_table(partitions_def, pool=pool, **args)(body)
        return asset(pool=pool, **args)(body)

    def execute(self, context: AssetExecutionContext, config: C, inputs: Mapping[str, pl.DataFrame], *,
                partitioned: bool = True) -> Iterator[Output | AssetCheckResult]:
        """The stage's body: ask per domain, gate the whole step, then build and yield the rows."""
        run = StageRun(self, context, config, inputs)
        domains: list[str | None] = list(context.partition_keys) if partitioned else [None]
        works, asked = [], []
        for domain in domains:
            work = self.prepare(run, domain)
            works.append(work)
            asked.append(run.ask(domain, list(self.requests(run, work))))
        # too many failed calls: raises here, nothing stored (the stored rows stay as they were)
        gate = gate_calls(self.name, [h for a in asked for h in a.healths], context.log)
        frames, output_metadata = [], {}
        for domain, work, answers in zip(domains, works, asked):
            done = self.finish(run, work, answers)
            frames.append(done.frame)
            if domain is None:
                output_metadata.update(done.metadata)
            else:
                add_domain_metadata(context, domain, done.metadata)
        df = pl.concat(frames) if frames else self.empty()
        yield Output(df, metadata={**gate, **output_metadata, **self.run_metadata(run), **run.produced_with()})
        yield from self.checks(run, df)
