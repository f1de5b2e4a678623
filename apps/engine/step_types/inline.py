"""Cheap steps that finish inside the advance pass: set, conditional, delay, pam."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.engine.context import decrypt_sensitive, encrypt_sensitive, sensitive_names
from apps.engine.errors import ErrorClass
from apps.engine.lifecycle import timer_add
from apps.engine.models import PamSession, Timer, TimerKind
from apps.engine.runtime import Outcome, StepRun
from apps.engine.states import PauseReason, save_fields
from apps.engine.step_types.base import Execution, evaluate, render, template_error
from apps.jobs.redaction import MASK, Masker


class SetExecution(Execution):
    """Assigns variables. A sensitive variable stays encrypted, and a plain one never
    carries a sensitive value in clear (it is masked), so `set` cannot launder secrets."""

    def start(self, run: StepRun) -> Outcome:
        context = run.context()
        try:
            values = render(run.config.get("variables") or {}, context.data)
        except Exception as exc:
            return template_error(run, exc)
        sensitive = sensitive_names(run.definition)
        masker = Masker(context.secret_values)
        plain = {name: _masked(value, masker) for name, value in values.items() if name not in sensitive}
        secret = {name: value for name, value in values.items() if name in sensitive}
        instance = run.instance
        instance.variables = {**instance.variables, **plain}
        fields = ["variables"]
        if secret:
            instance.sensitive_variables = encrypt_sensitive({**decrypt_sensitive(instance), **secret})
            fields.append("sensitive_variables")
        save_fields(instance, fields)
        return Outcome.succeeded(output={**plain, **dict.fromkeys(secret, MASK)})


def _masked(value: Any, masker: Masker) -> Any:
    if isinstance(value, str):
        return masker.mask(value)
    if isinstance(value, dict):
        return {key: _masked(item, masker) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item, masker) for item in value]
    return value


class ConditionalExecution(Execution):
    def start(self, run: StepRun) -> Outcome:
        context = run.context().data
        for index, branch in enumerate(run.config.get("branches") or []):
            try:
                taken = bool(evaluate(branch["when"], context))
            except Exception as exc:
                return template_error(run, exc)
            if taken:
                return Outcome.succeeded(output={"branch": index, "next": branch["next"]}, next_step=branch["next"],
                                         branch=index)
        default = run.config.get("default")
        return Outcome.succeeded(output={"branch": "default", "next": default}, next_step=default or "",
                                 branch="default")


class DelayExecution(Execution):
    def start(self, run: StepRun) -> Outcome:
        try:
            due = self.due_at(run)
        except (TypeError, ValueError) as exc:
            return Outcome.failed(ErrorClass.CONFIG_ERROR, f"Invalid delay: {exc}")
        except Exception as exc:
            return template_error(run, exc)
        if due <= run.now:
            return Outcome.succeeded(output={"waited_seconds": 0})
        timer_add(run.instance, kind=TimerKind.DELAY, due_at=due, step=run.step)
        return Outcome.waiting(PauseReason.DELAY, until=due.isoformat())

    def due_at(self, run: StepRun) -> datetime:
        config = run.config
        if config.get("until"):
            text = str(render(config["until"], run.context().data))
            until = parse_datetime(text)
            if until is None:
                raise ValueError(f"'{text}' is not an ISO 8601 date and time")
            return until if timezone.is_aware(until) else timezone.make_aware(until, UTC)
        return run.now + timedelta(seconds=float(config.get("seconds") or 0))

    def on_event(self, run: StepRun) -> Outcome | None:
        if Timer.objects.filter(step=run.step, kind=TimerKind.DELAY, fired_at__isnull=False).exists():
            return Outcome.succeeded(output={"until": run.step.result.get("until")})
        return None

    def stop(self, run: StepRun, mode: str) -> None:
        Timer.objects.filter(step=run.step, kind=TimerKind.DELAY, fired_at__isnull=True).delete()


class PamCheckoutExecution(Execution):
    def start(self, run: StepRun) -> Outcome:
        from apps.credentials.selectors import credential_for_ref

        config = run.config
        credential = credential_for_ref(organization_id=run.instance.organization_id, ref=config.get("credential"))
        if credential is None:
            return Outcome.failed(ErrorClass.NOT_FOUND, f"Credential '{config.get('credential')}' was not found.")
        ttl = int(config.get("ttl_seconds") or 3600)
        session = PamSession.objects.create(
            instance=run.instance,
            step_id=run.step.step_id,
            credential=credential,
            alias=config["alias"],
            expires_at=run.now + timedelta(seconds=ttl),
        )
        timer_add(run.instance, kind=TimerKind.PAM_EXPIRY, due_at=session.expires_at, data={"session_id": session.pk})
        output = {
            "alias": session.alias,
            "credential": credential.name,
            "username": credential.username,
            "session": session.pk,
            "expires_at": session.expires_at.isoformat(),
        }
        return Outcome.succeeded(output=output, session=session.pk)


class PamCheckinExecution(Execution):
    def start(self, run: StepRun) -> Outcome:
        checkout = run.config.get("checkout")
        now = timezone.now()
        closed = PamSession.objects.filter(instance=run.instance, step_id=checkout, closed_at__isnull=True).update(
            closed_at=now, close_reason="checkin", updated_at=now
        )
        return Outcome.succeeded(output={"checkout": checkout, "closed": closed})
