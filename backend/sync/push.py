"""Push: mutations from phones, each applied once (docs/sync.md).

A mutation is `{"id": <uuid made by the phone>, "type": "visit.answers", "record": <record id>,
"author": <user id>, "data": {...}}`. Its id is the primary key of `Mutation`: the row is
inserted in the same transaction as the change it makes, so a replay, or a twin sent at the
same moment (it waits on the unique index, then fails), finds the first one and gets its answer.

Answers, one per mutation:
- `applied` with the record as the server now holds it;
- `duplicate`: already applied (or refused) earlier, with that first answer;
- `rejected` with a French reason the agent can read (kept: a replay gets the same answer);
- `conflict` with the server's current version of the record (someone else changed it);
- `not_yours`: stamped with another agent's id; the phone keeps it for its author.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils.translation import gettext as _

from backend.core.errors import Conflict, ServiceError
from backend.sync.models import Mutation


@dataclass(frozen=True)
class Handler:
    kind: str
    apply: Callable  # (user, record_id, data) -> dict: the record as the server now holds it
    current: Callable | None = None  # (user, record_id) -> dict | None, for conflicts
    after: Callable | None = None  # (user, record_id) -> None, outside the transaction


HANDLERS: dict[str, Handler] = {}


def register(handler: Handler) -> None:
    HANDLERS[handler.kind] = handler


class FaultInjected(Exception):
    """Raised by the test-only fault switch (SYNC_FAULT_AFTER), to prove a failure in the
    middle of a batch loses and doubles nothing."""


def refusal_reason(exc) -> str:
    """The French reason a phone shows for a refused change or photo."""
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    if isinstance(exc, ServiceError):
        return exc.message
    if isinstance(exc, PermissionDenied):
        return _("Your role does not allow this change.")
    if isinstance(exc, Http404):
        return _("This record does not exist or is outside your sector.")
    return str(exc)


def _answer(mutation: Mutation, duplicate=False) -> dict:
    answer = {"id": str(mutation.id), "status": mutation.status, **mutation.result}
    if duplicate:
        answer["status"] = "duplicate"
        answer["first"] = mutation.status
    return answer


def _record_outcome(user, device, mutation_id, kind, record_id, status, result) -> dict:
    """Keep a refusal, so that a replay gets the same answer; a twin may have won meanwhile."""
    try:
        with transaction.atomic():
            row = Mutation.objects.create(
                id=mutation_id,
                user=user,
                device=device,
                kind=kind[:40],
                record_id=str(record_id)[:64],
                status=status,
                result=result,
            )
        return _answer(row)
    except IntegrityError:
        return _answer(Mutation.objects.get(pk=mutation_id), duplicate=True)


def apply_one(user, device, item: dict) -> dict:
    try:
        mutation_id = uuid.UUID(str(item.get("id")))
    except ValueError:
        return {
            "id": str(item.get("id")),
            "status": "rejected",
            "reason": _("Mutation without an id."),
        }
    kind = str(item.get("type") or "")
    record_id = str(item.get("record") or "")
    if item.get("author") is not None and str(item.get("author")) != str(user.pk):
        return {"id": str(mutation_id), "status": "not_yours"}
    first = Mutation.objects.filter(pk=mutation_id).first()
    if first is not None:
        if first.user_id != user.pk:
            return {"id": str(mutation_id), "status": "not_yours"}
        return _answer(first, duplicate=True)
    handler = HANDLERS.get(kind)
    if handler is None:
        return _record_outcome(
            user,
            device,
            mutation_id,
            kind,
            record_id,
            Mutation.Status.REJECTED,
            {"reason": _("Unknown record type “%(type)s”: update the app.") % {"type": kind}},
        )
    data = item.get("data") or {}
    try:
        with transaction.atomic():
            row = Mutation.objects.create(
                id=mutation_id,
                user=user,
                device=device,
                kind=kind,
                record_id=record_id[:64],
                status=Mutation.Status.APPLIED,
            )
            row.result = {"record": handler.apply(user, record_id, data)}
            row.save(update_fields=["result"])
    except IntegrityError:
        twin = Mutation.objects.filter(pk=mutation_id).first()
        if twin is None:
            raise
        return _answer(twin, duplicate=True)
    except Conflict as exc:
        current = handler.current(user, record_id) if handler.current else None
        return _record_outcome(
            user,
            device,
            mutation_id,
            kind,
            record_id,
            Mutation.Status.CONFLICT,
            {"reason": exc.message, "current": current},
        )
    except (ServiceError, ValidationError, PermissionDenied, Http404) as exc:
        return _record_outcome(
            user,
            device,
            mutation_id,
            kind,
            record_id,
            Mutation.Status.REJECTED,
            {"reason": refusal_reason(exc)},
        )
    if handler.after:
        handler.after(user, record_id)
    return _answer(row)


def push(user, device, items: list[dict]) -> list[dict]:
    """Apply a batch in order, each mutation in its own transaction."""
    answers = []
    fault_after = getattr(settings, "SYNC_FAULT_AFTER", None)
    for n, item in enumerate(items):
        if fault_after is not None and n == fault_after:
            raise FaultInjected(f"fault switch: failing after {n} mutations")
        answers.append(apply_one(user, device, item))
    return answers
