"""How one training example looks: the chat layout, its side columns, the prompt/completion form.

Layout of one training example (TRL, Unsloth, LLaMA-Factory read it as is)::

    messages = [{"role": "system", ...} (optional), {"role": "user", "content": instruction},
                {"role": "assistant", "content": "<think>\\n{steps joined by \\n}\\n</think>\\n\\n{answer}"}]

and the same rows as conversational `prompt` (system + user) / `completion` (the assistant turn).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SIDE_COLUMNS = ("domain", "seed_id", "sample_index", "teacher_model", "judge_model", "dogruluk",
                "kulturel_uygunluk", "completion_tokens", "content_hash")
SPLITS = ("train", "validation")


@dataclass(frozen=True)
class Layout:
    system_prompt: str | None = None
    assistant_template: str = "<think>\n{reasoning}\n</think>\n\n{answer}"
    step_separator: str = "\n"

    def assistant(self, steps: Sequence[str], answer: str) -> str:
        return self.assistant_template.format(reasoning=self.step_separator.join(steps), answer=answer)

    def prompt(self, instruction: str) -> list[dict[str, str]]:
        system = [] if self.system_prompt is None else [{"role": "system", "content": self.system_prompt}]
        return [*system, {"role": "user", "content": instruction}]

    def describe(self) -> dict[str, Any]:
        return {"system_prompt": self.system_prompt, "assistant_template": self.assistant_template,
                "step_separator": self.step_separator}


def example(row: Mapping[str, Any], layout: Layout) -> dict[str, Any]:
    """One `messages` row with its side columns, from an `sft_dataset` row."""
    assistant = {"role": "assistant", "content": layout.assistant(list(row["reasoning_steps"]), row["answer"])}
    return {"messages": [*layout.prompt(row["instruction"]), assistant], **{c: row[c] for c in SIDE_COLUMNS}}


def prompt_completion(ex: Mapping[str, Any]) -> dict[str, Any]:
    """The same example as conversational prompt / completion."""
    return {"prompt": ex["messages"][:-1], "completion": ex["messages"][-1:],
            **{c: ex[c] for c in SIDE_COLUMNS}}


def example_text(ex: Mapping[str, Any]) -> str:
    return "\n".join(m["content"] for m in ex["messages"] if m["role"] != "system")

