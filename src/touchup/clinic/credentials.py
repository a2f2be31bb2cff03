"""What a new username and a chosen password must be, for staff and patients alike.

Staff accounts (`touchup clinic create`, a manager adding staff, the set-password link)
and patients' portal accounts (accepting an invitation) are all Django users signing in
through the same form, so they follow one rule. Each refusal is an InvalidInput naming the
form field, so the page can put the words next to it.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError

from .errors import InvalidInput

MAX_USERNAME = 150  # auth.User.username


def new_username(value: str, *, field: str = "username", missing: str = "is required",
                 name_it: bool = True) -> str:
    """`value` stripped, once it is a username nobody has yet. `missing` is what an empty
    one is told; `name_it` repeats the taken name in the refusal (staff forms list several
    people, the patient typed only their own)."""
    username = (value or "").strip()
    if not username:
        raise InvalidInput(field, missing)
    if len(username) > MAX_USERNAME:
        raise InvalidInput(field, f"must be at most {MAX_USERNAME} characters")
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError:
        raise InvalidInput(field, "use only letters, digits and @ . + - _") from None
    # Sign-in matches usernames whatever their case (allauth), so "Nora" would shadow "nora".
    if get_user_model().objects.filter(username__iexact=username).exists():
        raise username_taken(username, field=field, name_it=name_it)
    return username


def username_taken(username: str, *, field: str = "username", name_it: bool = True) -> InvalidInput:
    """The refusal for a taken username: also for the race, when the unique index, not
    the check above, catches the same name typed twice at once."""
    return InvalidInput(field, f"{username!r} is taken: choose another" if name_it else "is taken: choose another")


def strong_enough(password: str, user: Any, *, field: str) -> None:
    """Django's password validators (AUTH_PASSWORD_VALIDATORS) decide; all their reasons
    are given at once. `user` is the account it is for, saved or not: the similarity check
    compares the password with its username, names and email."""
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput(field, " ".join(exc.messages)) from None


def chosen_password(password1: str, password2: str, user: Any) -> str:
    """The password typed twice in a form (fields password1 and password2), once it is
    given, the same both times, and strong enough for `user`."""
    if not password1:
        raise InvalidInput("password1", "choose a password")
    if password1 != password2:
        raise InvalidInput("password2", "the two passwords are not the same")
    strong_enough(password1, user, field="password1")
    return password1
