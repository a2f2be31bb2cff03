"""The audit trail: who read or wrote which patient's data, when, from where.

Every event is chained to the one before it by SHA-256, so `touchup audit verify`
detects an edited, inserted or deleted row. Events are written in the caller's
transaction (a write and its audit event commit or roll back together); denied access
is recorded in a transaction of its own, because the request that caused it fails.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from .middleware import current_request
from .models import AuditChainHead, AuditEvent

GENESIS = "0" * 64


def _canonical(event: AuditEvent) -> bytes:
    body = {
        "id": event.id,
        "at": event.at.isoformat(),
        "actor": event.actor_id,
        "actor_label": event.actor_label,
        "clinic": event.clinic_id_ref,
        "patient": event.patient_id_ref,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "outcome": event.outcome,
        "ip": event.ip,
        "request_id": event.request_id,
        "detail": event.detail,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def _hash(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256(prev_hash.encode() + _canonical(event)).hexdigest()


def record(
    action: str,
    *,
    actor: Any = None,
    clinic: Any = None,
    patient: Any = None,
    obj: Any = None,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
    using: str = "default",
) -> AuditEvent:
    """Append one event. `detail` must hold identifiers and codes, never names or notes.
    `using`: the database alias (a restore records its event in the database it restored,
    before that database is put in place)."""
    heads = AuditChainHead.objects.using(using)
    with transaction.atomic(using=using):
        head = heads.select_for_update().filter(pk=1).first()
        if head is None:
            # The migration creates the head; a flushed test database may not have it. Two
            # first writers may race here: get_or_create's savepoint lets the loser re-read.
            heads.get_or_create(pk=1, defaults={"last_id": 0, "last_hash": GENESIS})
            head = heads.select_for_update().get(pk=1)
        ctx = current_request.get()
        user = actor if getattr(actor, "is_authenticated", False) else None
        if patient is not None and clinic is None:
            clinic = patient.clinic_id
        event = AuditEvent(
            # Ids are handed out under the head lock, so they are gap-free: a missing id
            # is a deleted event.
            id=head.last_id + 1,
            at=timezone.now(),
            actor=user,
            actor_label=user.get_username() if user else "",
            clinic_id_ref=getattr(clinic, "pk", clinic),
            patient_id_ref=getattr(patient, "pk", patient),
            action=action,
            object_type=type(obj).__name__ if obj is not None else "",
            object_id=str(getattr(obj, "public_id", None) or getattr(obj, "pk", "")) if obj is not None else "",
            outcome=outcome,
            ip=ctx.ip if ctx else None,
            request_id=ctx.request_id if ctx else "",
            detail=detail or {},
            prev_hash=head.last_hash,
        )
        event.hash = _hash(event.prev_hash, event)
        event.save(force_insert=True, using=using)
        head.last_id = event.id
        head.last_hash = event.hash
        head.save(update_fields=["last_id", "last_hash"], using=using)
        return event


def record_denied(action: str, *, actor: Any, detail: dict[str, Any] | None = None, clinic: Any = None) -> None:
    """Record a refused access attempt so it survives the failing request's rollback.
    `clinic` is the actor's own clinic, when known: its manager's audit page lists the event."""
    # on_commit would never fire inside a rolled-back atomic block; a fresh connection-level
    # transaction is only possible outside one, so write now when we are outside, else after.
    conn = transaction.get_connection()
    if conn.in_atomic_block:
        # The request's address and id as they are now: the commit may come after the
        # request context is gone.
        ctx = current_request.get()

        def write() -> None:
            token = current_request.set(ctx)
            try:
                record(action, actor=actor, clinic=clinic, outcome="denied", detail=detail)
            finally:
                current_request.reset(token)

        transaction.on_commit(write)
    else:
        record(action, actor=actor, clinic=clinic, outcome="denied", detail=detail)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    events: int
    problem: str = ""
    at_id: int | None = None


def verify(batch_size: int = 5000, *, using: str = "default") -> VerifyResult:
    """Walk the chain from the first event: every hash, every link, no gaps, the head.
    `using`: the database alias (a backup's snapshot is checked through its own alias)."""
    prev_hash = GENESIS
    expected_id = 1
    count = 0
    last_id = 0
    qs = AuditEvent.objects.using(using).order_by("id")
    while True:
        batch = list(qs.filter(id__gt=last_id)[:batch_size])
        if not batch:
            break
        for event in batch:
            if event.id != expected_id:
                return VerifyResult(False, count, f"event {expected_id} is missing", expected_id)
            if event.prev_hash != prev_hash:
                return VerifyResult(False, count, f"event {event.id} does not link to the one before", event.id)
            if _hash(prev_hash, event) != event.hash:
                return VerifyResult(False, count, f"event {event.id} was altered", event.id)
            prev_hash = event.hash
            expected_id += 1
            count += 1
            last_id = event.id
    head = AuditChainHead.objects.using(using).filter(pk=1).first()
    if head is not None and (head.last_id != last_id or head.last_hash != prev_hash):
        return VerifyResult(False, count, f"events after {last_id} were deleted", last_id + 1)
    if head is None and count:
        return VerifyResult(False, count, "the chain head is missing", None)
    return VerifyResult(True, count)
