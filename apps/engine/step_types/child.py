"""workflow: one child instance per batch of `batch_size` hosts; done when all children end.

Each child is an instance of its own (own approvals, own controls); a pause cascades down
to children, never up."""

from __future__ import annotations

from apps.engine.errors import ErrorClass
from apps.engine.models import Trigger, WorkflowInstance
from apps.engine.runtime import Outcome, StepRun
from apps.engine.states import INSTANCE_TERMINAL, InstanceStatus
from apps.engine.step_types.base import Execution, render, template_error


class ChildWorkflowExecution(Execution):
    def start(self, run: StepRun) -> Outcome:
        from apps.core.errors import ApplicationError
        from apps.engine.services import instance_start
        from apps.workflows.selectors import definition_for_child

        config = run.config
        definition = definition_for_child(organization_id=run.instance.organization_id, ref=config.get("workflow"))
        if definition is None:
            return Outcome.failed(ErrorClass.NOT_FOUND, f"Child workflow '{config.get('workflow')}' was not found.")
        try:
            variables = render(config.get("variables") or {}, run.context().data)
        except Exception as exc:
            return template_error(run, exc)
        targets = run.instance.targets
        size = int(config.get("batch_size") or 0) or max(len(targets), 1)
        batches = [targets[i : i + size] for i in range(0, len(targets), size)] or [[]]
        restarted = int(run.step.result.get("restarted_at_attempt") or 1)  # a restart runs every batch
        done = self.succeeded_batches(run) if run.step.attempt > restarted else set()
        children = []
        try:
            for index, batch in enumerate(batches):
                if index in done:
                    continue  # a retry starts again only the batches that did not succeed
                child = instance_start(
                    definition=definition,
                    actor=run.instance.triggered_by,
                    variables=variables,
                    trigger=Trigger.PARENT,
                    trigger_data={"parent_id": run.instance.pk, "step": run.step.step_id, "batch": index},
                    parent=run.instance,
                    parent_step=run.step,
                    batch_index=index,
                    targets=batch,
                )
                children.append(child.pk)
        except ApplicationError as exc:
            return Outcome.failed(ErrorClass.CONFIG_ERROR, f"Child workflow could not start: {exc.message}")
        return Outcome.running(children=children, batches=len(batches))

    @staticmethod
    def latest_children(run: StepRun) -> dict[int, str]:
        """{child id: status} of the newest child of each batch (a retry adds new ones)."""
        latest: dict[int | None, tuple[int, str]] = {}
        for pk, batch, status in WorkflowInstance.objects.filter(parent_step=run.step).order_by("pk").values_list(
            "pk", "batch_index", "status"
        ):
            latest[batch] = (pk, status)
        return dict(latest.values())

    def succeeded_batches(self, run: StepRun) -> set[int | None]:
        rows = WorkflowInstance.objects.filter(parent_step=run.step).values_list("batch_index", "status")
        return {batch for batch, status in rows if status == InstanceStatus.SUCCEEDED}

    def on_event(self, run: StepRun) -> Outcome | None:
        statuses = self.latest_children(run)
        if any(status not in INSTANCE_TERMINAL for status in statuses.values()):
            summary = {str(pk): status for pk, status in statuses.items()}
            return Outcome.running(child_statuses=summary) if summary != run.step.result.get("child_statuses") else None
        failed = [pk for pk, status in statuses.items() if status != InstanceStatus.SUCCEEDED]
        summary = {str(pk): status for pk, status in statuses.items()}
        if failed:
            return Outcome.failed(
                ErrorClass.CHILD_FAILED,
                f"{len(failed)} of {len(statuses)} child instance(s) did not succeed: "
                + ", ".join(f"#{pk} {statuses[pk]}" for pk in failed[:10]),
                child_statuses=summary,
            )
        return Outcome.succeeded(output={"children": summary}, child_statuses=summary)

    def stop(self, run: StepRun, mode: str) -> None:
        from apps.engine.controls import instance_cancel_cascade

        instance_cancel_cascade(parent_step=run.step, mode=mode)
