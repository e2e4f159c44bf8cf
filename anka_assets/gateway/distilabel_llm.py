"""`GatewayLLM`: a distilabel `LLM` whose every call goes through a `ModelGateway`.

A public adapter for users' own distilabel tasks (`TextGeneration`, `EvolInstruct`, a custom `Task`
on a refinery prompt, ...): they use a refinery endpoint this way and still get the KVKK guard, the
response cache, the audit log, retries and cost accounting. The refinery's assets do not use it: they
run their model tasks through `anka_assets.model_tasks.run_task`. distilabel hands an LLM only formatted chats, so the KVKK labels of the rows
(seed id, sensitivity, sample index, per-row parameters) are bound around the call:

    llm = GatewayLLM.for_gateway(gateway, asset="my_task", partition="hukuk")
    task = TextGeneration(llm=llm); task.load()
    with llm.bind([{"seed_id": ..., "sensitivity": "public"}, ...]):   # one label per input row
        rows = next(task.process(inputs))

Fail-closed: inputs without a bound label carry no sensitivity, which the gateway treats as
confidential — a commercial endpoint never receives them. A label list of the wrong length raises.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Optional

from distilabel.models.llms.base import LLM
from pydantic import PrivateAttr

from anka_assets.gateway.core import ModelGateway
from anka_assets.gateway.types import ModelRequest, ModelResult

LABEL_KEYS = ("seed_id", "sensitivity", "sample_index", "repair_attempt", "params")


class GatewayLLM(LLM):
    asset: str = "distilabel"
    partition: Optional[str] = None
    run_id: Optional[str] = None
    template_version: str = "distilabel"

    _gateway: Any = PrivateAttr(default=None)
    _labels: Optional[list[Mapping[str, Any]]] = PrivateAttr(default=None)
    _results: list[ModelResult] = PrivateAttr(default_factory=list)

    @classmethod
    def for_gateway(cls, gateway: ModelGateway, **fields: Any) -> GatewayLLM:
        llm = cls(**fields)
        llm._gateway = gateway
        return llm

    @property
    def model_name(self) -> str:
        return self._gateway.settings.model if self._gateway is not None else "unbound"

    @property
    def last_results(self) -> list[ModelResult]:
        """The gateway results of the last `generate` call, input by input, generation by generation."""
        return list(self._results)

    @contextmanager
    def bind(self, labels: Sequence[Mapping[str, Any]]) -> Iterator[GatewayLLM]:
        """Attach one label per input row to the next `generate` calls made inside the block."""
        for label in labels:
            unknown = set(label) - set(LABEL_KEYS)
            if unknown:
                raise ValueError(f"GatewayLLM label has unknown keys {sorted(unknown)}; allowed: {LABEL_KEYS}")
        previous, self._labels = self._labels, list(labels)
        try:
            yield self
        finally:
            self._labels = previous

    def requests_for(self, inputs: Sequence[Any], num_generations: int, params: Mapping[str, Any]) -> list[ModelRequest]:
        """The gateway requests for `inputs` (pure given the bound labels)."""
        labels = self._labels
        if labels is not None and len(labels) != len(inputs):
            raise ValueError(f"GatewayLLM has {len(labels)} bound labels for {len(inputs)} inputs")
        requests = []
        for i, chat in enumerate(inputs):
            label = labels[i] if labels is not None else {}
            base = int(label.get("sample_index", 0)) * num_generations
            for g in range(num_generations):
                requests.append(ModelRequest(
                    messages=chat,
                    params={**params, **dict(label.get("params") or {})},
                    template_version=self.template_version,
                    seed_id=label.get("seed_id"),
                    sensitivity=label.get("sensitivity"),
                    sample_index=base + g,
                    repair_attempt=int(label.get("repair_attempt", 0)),
                ))
        return requests

    def generate(self, inputs: list[Any], num_generations: int = 1, **kwargs: Any) -> list[dict[str, Any]]:
        if self._gateway is None:
            raise RuntimeError("GatewayLLM is not bound to a gateway: build it with GatewayLLM.for_gateway(...)")
        requests = self.requests_for(inputs, num_generations, kwargs)
        results = self._gateway.run(requests, asset=self.asset, partition=self.partition, run_id=self.run_id)
        self._results = results
        outputs = []
        for i in range(len(inputs)):
            group = results[i * num_generations : (i + 1) * num_generations]
            outputs.append({
                # A refused or failed call is a None generation, which distilabel records as a failure.
                "generations": [r.text if r.ok else None for r in group],
                "statistics": {
                    "input_tokens": [r.prompt_tokens for r in group],
                    "output_tokens": [r.completion_tokens for r in group],
                },
            })
        return outputs
