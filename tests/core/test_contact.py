"""The one wording of "call the clinic[ on N]" and the rule for a phone number."""

import pytest

from touchup.core.contact import PHONE_RULE, call_the_clinic, clean_phone


def test_the_number_is_given_when_the_clinic_has_one():
    assert call_the_clinic("020 7946 0000") == "call the clinic on 020 7946 0000"


@pytest.mark.parametrize("phone", ["", None, "   "])
def test_without_a_number_the_words_are_the_old_ones(phone):
    assert call_the_clinic(phone) == "call the clinic"


@pytest.mark.parametrize("typed, kept", [
    ("020 7946 0000", "020 7946 0000"),
    ("  +44 (0)20  7946-0000 ", "+44 (0)20 7946-0000"),
    ("", ""),
    (None, ""),
])
def test_phone_numbers_as_people_write_them(typed, kept):
    assert clean_phone(typed) == kept


@pytest.mark.parametrize("typed", ["call reception", "020 7946 0000 ext. 2", "12345", "1" * 16, "44+20 7946"])
def test_not_a_number_someone_can_dial(typed):
    with pytest.raises(ValueError, match="must be a phone number"):
        clean_phone(typed)
    assert "6 to 15 digits" in PHONE_RULE
