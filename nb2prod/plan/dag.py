"""The steps as a graph: which step's output each argument reads, and what each waits for.

`run_pipeline` runs the steps one after another in notebook order; an orchestrator
(Kubeflow Pipelines) runs each step as its own task and needs the edges instead. A
step's data argument comes from the last earlier step that returns that name (the
step that last bound or changed it, as in `run_pipeline`), so a task depends only on
the tasks whose outputs it reads and independent sections run in parallel. Kale's
`prev:` tags (`Step.after`) add the edges a Kale user drew even where no value flows.
"""

from __future__ import annotations

from dataclasses import dataclass

from nb2prod.plan.build import Plan, Step


@dataclass(frozen=True)
class TaskInput:
    """A step's data argument and the step (function) whose output it reads."""

    name: str
    provider: str


@dataclass(frozen=True)
class Task:
    """A step with its incoming edges."""

    step: Step
    inputs: tuple[TaskInput, ...]
    upstream: tuple[str, ...]
    """Every step it waits for (data and Kale's `prev:`), in notebook order."""

    @property
    def after_only(self) -> tuple[str, ...]:
        """The steps it waits for without reading their outputs (Kale's extra edges)."""
        readers = {i.provider for i in self.inputs}
        return tuple(name for name in self.upstream if name not in readers)


def tasks(plan: Plan) -> list[Task]:
    """One task per step, in notebook order, with the edges an orchestrator needs."""
    order = {step.function: position for position, step in enumerate(plan.steps)}
    latest: dict[str, str] = {}  # value name -> function that last returned it
    found: list[Task] = []
    for step in plan.steps:
        inputs = tuple(
            TaskInput(a.name, latest[a.name])
            for a in step.arguments
            if not a.from_config and a.name in latest
        )
        upstream = {i.provider for i in inputs} | {f for f in step.after if f in order}
        found.append(Task(step, inputs, tuple(sorted(upstream, key=order.__getitem__))))
        for name in step.outputs:
            latest[name] = step.function
    return found


def last_providers(plan: Plan) -> dict[str, str]:
    """Each value `run_pipeline` returns, and the step whose output holds its final
    version (what a task that saves the model reads)."""
    latest: dict[str, str] = {}
    for step in plan.steps:
        for name in step.outputs:
            latest[name] = step.function
    return {name: latest[name] for name in plan.pipeline_names}
