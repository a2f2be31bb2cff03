"""One rule for new usernames and chosen passwords (touchup.clinic.credentials), used by
staff accounts and by patients accepting a portal invitation."""

import pytest
from django.contrib.auth import get_user_model

from tests.conftest import PASSWORD
from touchup.clinic.credentials import chosen_password, new_username
from touchup.clinic.errors import InvalidInput

pytestmark = pytest.mark.django_db

STRONG = "lilac bicycle harbour 42"


def refusal(call) -> tuple[str, str]:
    with pytest.raises(InvalidInput) as caught:
        call()
    return caught.value.field, caught.value.message


def test_a_free_username_comes_back_stripped(clinician):
    assert new_username("  nora.lee ") == "nora.lee"


@pytest.mark.parametrize(("value", "words"), [
    ("", "is required"),
    ("   ", "is required"),
    ("x" * 151, "must be at most 150 characters"),
    ("nora lee", "use only letters, digits and @ . + - _"),
    ("ALICE", "'ALICE' is taken: choose another"),  # "alice" exists: sign-in ignores case
])
def test_a_username_is_refused_with_words_naming_what_is_wrong(clinician, value, words):
    assert refusal(lambda: new_username(value)) == ("username", words)


def test_the_field_and_the_words_are_the_callers(clinician):
    assert refusal(lambda: new_username("", field="manager")) == ("manager", "is required")
    assert refusal(lambda: new_username("", missing="choose a username")) == ("username", "choose a username")
    assert refusal(lambda: new_username("Alice", name_it=False)) == ("username", "is taken: choose another")


@pytest.mark.parametrize(("password1", "password2", "field", "words"), [
    ("", "", "password1", "choose a password"),
    (STRONG, STRONG + "!", "password2", "the two passwords are not the same"),
    ("password123", "password123", "password1", "This password is too common."),
    ("nora.lee.nora", "nora.lee.nora", "password1", "too similar to the username"),
])
def test_a_chosen_password_is_refused_with_the_field_to_fix(password1, password2, field, words):
    user = get_user_model()(username="nora.lee")
    got_field, got_words = refusal(lambda: chosen_password(password1, password2, user))
    assert got_field == field and words in got_words


def test_a_good_password_typed_twice_is_returned():
    assert chosen_password(PASSWORD, PASSWORD, get_user_model()(username="nora.lee")) == PASSWORD
