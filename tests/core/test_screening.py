"""Screening: which questions each indication asks, what a "yes" means for a cosmetic and
a therapeutic treatment, the doctor's sign-off, and answers that are not answers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from touchup.core.catalogue import DATA_DIR, CatalogueError, load_catalogue
from touchup.core.screening import (
    MAX_DETAILS,
    QUESTIONS,
    InvalidScreening,
    ScreeningResult,
    evaluate_screening,
    questions_for,
    read_questions,
)

CAT = load_catalogue()
EVERY_INDICATION = ("infection_at_site", "toxin_allergy", "neuromuscular_disease", "interacting_drugs",
                    "pregnant_or_breastfeeding", "recent_toxin", "bleeding_risk", "swallowing_or_breathing")
UPPER_FACE = ("glabellar_lines", "forehead_lines", "lateral_canthal_lines", "upper_face_lines")
COSMETIC = [k for k, i in CAT.indications.items() if i.kind == "cosmetic"]
THERAPEUTIC = [k for k, i in CAT.indications.items() if i.kind == "therapeutic"]


def answers(indication: str, *yes: str, details: str = "") -> dict:
    return {q.key: {"answer": q.key in yes, "details": details if q.key in yes else ""}
            for q in questions_for(indication)}


def by_code(result: ScreeningResult) -> dict:
    return {f.code: f for f in result.findings}


# --- the questions -------------------------------------------------------------------


def test_the_intake_questions_of_the_issue_are_asked():
    keys = [q.key for q in QUESTIONS]
    assert len(keys) == len(set(keys))
    for key in EVERY_INDICATION:
        assert key in keys
    text = " ".join(q.text for q in QUESTIONS).lower()
    for words in ("infection", "allergic", "myasthenia gravis", "lambert-eaton", "als", "aminoglycoside",
                  "pregnant", "breastfeeding", "last 4 months", "blood thinners"):
        assert words in text
    for q in QUESTIONS:
        assert q.source and all(s in CAT.sources for s in q.source.split(", "))
        assert q.cosmetic in ("block", "warn") and q.therapeutic in ("block", "warn")


@pytest.mark.parametrize("indication", sorted(CAT.indications))
def test_questions_per_indication(indication):
    asked = [q.key for q in questions_for(indication)]
    assert asked[:len(EVERY_INDICATION)] == list(EVERY_INDICATION)
    # The droop question is about the upper face only.
    assert ("facial_surgery_or_ptosis" in asked) == (indication in UPPER_FACE)


# --- what a yes means ------------------------------------------------------------------


@pytest.mark.parametrize("indication", sorted(CAT.indications))
def test_all_no_gives_no_blocking_finding(indication):
    result = evaluate_screening(answers(indication), indication)
    assert not result.blocking
    assert [f.severity for f in result.findings if f.severity != "info"] == []


@pytest.mark.parametrize("key,cosmetic,therapeutic", [
    ("infection_at_site", "block", "block"),
    ("toxin_allergy", "block", "block"),
    ("neuromuscular_disease", "block", "warn"),
    ("pregnant_or_breastfeeding", "block", "warn"),
    ("interacting_drugs", "warn", "warn"),
    ("recent_toxin", "warn", "warn"),
    ("bleeding_risk", "warn", "warn"),
    ("swallowing_or_breathing", "warn", "warn"),
])
def test_block_or_warn_for_cosmetic_and_therapeutic(key, cosmetic, therapeutic):
    for indication in COSMETIC:
        result = evaluate_screening(answers(indication, key), indication)
        f = by_code(result)[f"screening_{key}"]
        assert f.severity == cosmetic and result.blocking == (cosmetic == "block")
        assert f.rule == f"screening.{key}" and f.source
    for indication in THERAPEUTIC:
        result = evaluate_screening(answers(indication, key), indication)
        f = by_code(result)[f"screening_{key}"]
        assert f.severity == therapeutic and result.blocking == (therapeutic == "block")


def test_neuromuscular_message_names_the_diseases_and_the_risk():
    f = by_code(evaluate_screening(answers("glabellar_lines", "neuromuscular_disease"), "glabellar_lines"))[
        "screening_neuromuscular_disease"]
    for words in ("myasthenia gravis", "Lambert-Eaton", "ALS", "swallowing and breathing"):
        assert words in f.message


def test_the_patients_details_are_quoted_in_the_finding():
    result = evaluate_screening(answers("forehead_lines", "toxin_allergy", details="  Hives after Xeomin, 2024 "),
                                "forehead_lines")
    assert by_code(result)["screening_toxin_allergy"].message.endswith("Patient said: Hives after Xeomin, 2024")
    plain = evaluate_screening(answers("forehead_lines", "toxin_allergy", details="   "), "forehead_lines")
    assert "Patient said" not in by_code(plain)["screening_toxin_allergy"].message


def test_a_bare_boolean_is_an_answer():
    bare = {q.key: q.key == "bleeding_risk" for q in questions_for("glabellar_lines")}
    result = evaluate_screening(bare, "glabellar_lines")
    assert list(by_code(result)) == ["screening_bleeding_risk"]


def test_a_question_of_another_indication_may_be_answered_and_is_not_used():
    extra = answers("chronic_migraine") | {"facial_surgery_or_ptosis": {"answer": True}}
    assert "screening_facial_surgery_or_ptosis" not in by_code(evaluate_screening(extra, "chronic_migraine"))


# --- the doctor's sign-off ---------------------------------------------------------------


@pytest.mark.parametrize("indication", sorted(CAT.indications))
def test_doctor_signoff_is_required_for_the_therapeutic_indications(indication):
    result = evaluate_screening(answers(indication), indication)
    therapeutic = indication in ("chronic_migraine", "cervical_dystonia")
    assert result.requires_doctor == therapeutic
    note = by_code(result).get("doctor_signoff_required")
    assert (note is not None) == therapeutic
    if note:
        assert note.severity == "info" and "doctor signs off" in note.message


# --- answers that are not answers ------------------------------------------------------


@pytest.mark.parametrize("indication", ["glabellar_lines", "cervical_dystonia"])
def test_every_skipped_question_is_named(indication):
    for q in questions_for(indication):
        partial = answers(indication)
        del partial[q.key]
        with pytest.raises(InvalidScreening) as exc:
            evaluate_screening(partial, indication)
        assert (exc.value.question, exc.value.message) == (q.key, "is not answered")


@pytest.mark.parametrize("value,message", [
    ({"answer": "yes"}, "answer yes or no"),
    ({"answer": 1}, "answer yes or no"),
    ({"details": "no answer"}, "answer yes or no"),
    ("no", "answer yes or no"),
    (None, "answer yes or no"),
    (0, "answer yes or no"),
    ({"answer": True, "details": 42}, f"details must be text of at most {MAX_DETAILS} characters"),
    ({"answer": True, "details": "x" * (MAX_DETAILS + 1)}, f"details must be text of at most {MAX_DETAILS} characters"),
])
def test_a_malformed_answer_names_its_question(value, message):
    bad = answers("glabellar_lines") | {"pregnant_or_breastfeeding": value}
    with pytest.raises(InvalidScreening) as exc:
        evaluate_screening(bad, "glabellar_lines")
    assert (exc.value.question, exc.value.message) == ("pregnant_or_breastfeeding", message)


def test_details_at_the_limit_and_none_are_accepted():
    ok = answers("glabellar_lines") | {"bleeding_risk": {"answer": True, "details": "x" * MAX_DETAILS},
                                       "recent_toxin": {"answer": False, "details": None}}
    assert "screening_bleeding_risk" in by_code(evaluate_screening(ok, "glabellar_lines"))


def test_unknown_question_indication_and_shape_are_refused():
    with pytest.raises(InvalidScreening) as exc:
        evaluate_screening(answers("glabellar_lines") | {"favourite_colour": {"answer": True}}, "glabellar_lines")
    assert exc.value.question == "answers" and "favourite_colour" in exc.value.message
    with pytest.raises(InvalidScreening) as exc:
        evaluate_screening(answers("glabellar_lines") | {"x" * 100: True}, "glabellar_lines")
    assert len(exc.value.message) < 80  # an absurd key is not echoed whole
    with pytest.raises(InvalidScreening) as exc:
        evaluate_screening(answers("glabellar_lines"), "frown")
    assert exc.value.question == "indication"
    for not_a_mapping in ([], "all no", None, 3):
        with pytest.raises(InvalidScreening) as exc:
            evaluate_screening(not_a_mapping, "glabellar_lines")
        assert exc.value.question == "answers"


# --- the questions file is checked as it loads -----------------------------------------


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


def test_read_questions_from_a_copy(data_copy):
    assert read_questions(data_copy) == QUESTIONS


@pytest.mark.parametrize("old,new,where,message", [
    ('cosmetic = "block"', 'cosmetic = "blok"', "questions[0].cosmetic", "must be one of block, warn"),
    ('therapeutic = "block"', 'therapeutic = "info"', "questions[0].therapeutic", "must be one of block, warn"),
    ('src = ["S137", "S97", "S35"]', 'src = ["S137", "S0"]', "questions[0].src", "unknown source 'S0'"),
    ('src = ["S137", "S97", "S35"]', "src = []", "questions[0].src", "at least one source"),
    ('indications = ["glabellar_lines",', 'indications = ["glabelar_lines",', "questions[8].indications",
     "unknown indication 'glabelar_lines'"),
    ('indications = ["glabellar_lines", "forehead_lines", "lateral_canthal_lines", "upper_face_lines"]',
     "indications = []", "questions[8].indications", "at least one indication"),
    ('key = "toxin_allergy"', 'key = "infection_at_site"', "questions[1].key", "asked twice"),
    ('key = "toxin_allergy"', 'key = ""', "questions[1].key", "non-empty text"),
    ('details_prompt = "Where, and since when?"', 'detail_prompt = "Where?"', "questions[0].detail_prompt",
     "unknown field"),
    ("[[questions]]", "[[question]]", "questions", "at least one"),
])
def test_read_questions_refuses_a_defect(data_copy, old, new, where, message):
    path = data_copy / "screening.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1) if old != "[[questions]]" else text.replace(old, new))
    with pytest.raises(CatalogueError) as exc:
        read_questions(data_copy)
    assert (exc.value.file, exc.value.where) == ("screening.toml", where)
    assert message in str(exc.value)


def test_a_yes_to_a_question_asking_for_details_needs_them():
    from touchup.core.screening import missing_details

    asking = next(q for q in questions_for("glabellar_lines") if q.details_prompt)
    bare = answers("glabellar_lines") | {asking.key: {"answer": True, "details": "  "}}
    [error] = missing_details(bare, "glabellar_lines")
    assert error.question == asking.key
    assert asking.text in error.message and asking.details_prompt in error.message
    given = answers("glabellar_lines") | {asking.key: {"answer": True, "details": "since May"}}
    assert missing_details(given, "glabellar_lines") == []
    # A "no" needs nothing; and a kept screening still reads (the rule is for new ones).
    assert missing_details(answers("glabellar_lines"), "glabellar_lines") == []
    assert evaluate_screening(bare, "glabellar_lines").findings
