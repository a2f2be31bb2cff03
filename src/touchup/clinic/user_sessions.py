"""A person's other sessions end when their account is deactivated, their password
changes, or they are removed from their clinic (SE-2), however that happens: allauth's
password pages, `touchup manage changepassword`, a shell, a script.

Django alone already refuses a deactivated account's session (the backend finds no
user) and a session signed in under an old password (its hash no longer matches), but
the session rows stay: activating the account again, or setting the old password back,
would bring them back to life. Here the rows go.

The database session backend keeps no index by user, so the live sessions are read one
by one: a few thousand rows at most with a 12 h lifetime, and only on these rare changes.
"""

from __future__ import annotations

import contextvars
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models.signals import post_save, pre_save
from django.utils import timezone

from . import audit
from .models import Membership
from .signin_audit import clinic_of

# The session of the request in hand (set by idle.IdleTimeoutMiddleware): a person who
# changes their own password keeps the session they did it from.
current_session: contextvars.ContextVar[Any] = contextvars.ContextVar("touchup_session", default=None)


def end_sessions(user: Any, *, keep: str | None = None) -> int:
    """Delete `user`'s live sessions except `keep` (a session key); how many went."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    model = store.get_model_class()
    uid = str(user.pk)
    codec = store()
    ended = [
        s.session_key
        for s in model.objects.filter(expire_date__gt=timezone.now()).only("session_key", "session_data").iterator()
        if s.session_key != keep and str(codec.decode(s.session_data).get("_auth_user_id")) == uid
    ]
    model.objects.filter(session_key__in=ended).delete()
    return len(ended)


def _own_session_key() -> str | None:
    session = current_session.get()
    return getattr(session, "session_key", None)


def _before_user_save(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    if raw or instance.pk is None:
        return
    if update_fields is not None and not {"password", "is_active"} & set(update_fields):
        return  # e.g. last_login at every sign-in: no extra query
    instance._touchup_before = sender._default_manager.filter(pk=instance.pk).values("password", "is_active").first()


def _after_user_save(sender, instance, created=False, raw=False, **kwargs) -> None:
    before = instance.__dict__.pop("_touchup_before", None)
    if created or raw or before is None:
        return
    if before["is_active"] and not instance.is_active:
        ended = end_sessions(instance)
        audit.record("account.deactivated", clinic=clinic_of(instance), obj=instance, detail={"sessions_ended": ended})
    elif before["password"] != instance.password:
        ended = end_sessions(instance, keep=_own_session_key())
        if ended:
            audit.record("sessions.ended", clinic=clinic_of(instance), obj=instance,
                         detail={"reason": "password_changed", "sessions": ended})


def _before_membership_save(sender, instance, raw=False, **kwargs) -> None:
    if raw or instance.pk is None:
        return
    instance._touchup_was_active = sender._default_manager.filter(pk=instance.pk).values_list("active", flat=True).first()


def _after_membership_save(sender, instance, created=False, raw=False, **kwargs) -> None:
    was_active = instance.__dict__.pop("_touchup_was_active", None)
    if created or raw or not was_active or instance.active:
        return
    ended = end_sessions(instance.user)
    if ended:
        audit.record("sessions.ended", clinic=instance.clinic_id, obj=instance.user,
                     detail={"reason": "removed_from_clinic", "sessions": ended})


def connect() -> None:
    user_model = get_user_model()
    uid = "touchup.user_sessions"
    pre_save.connect(_before_user_save, sender=user_model, dispatch_uid=uid)
    post_save.connect(_after_user_save, sender=user_model, dispatch_uid=uid)
    pre_save.connect(_before_membership_save, sender=Membership, dispatch_uid=uid)
    post_save.connect(_after_membership_save, sender=Membership, dispatch_uid=uid)
