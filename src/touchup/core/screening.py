"""Screening: the intake questions and what the answers mean for treatment.

Answers are `{question_key: {"answer": bool, "details": str}}`. Every question that
applies to the indication must be answered: a skipped question is not a "no". A new
screening's "yes" to a question that asks for details ("Which medicines?") must give them
(`missing_details`): the finding's message carries them to the clinician who treats.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from touchup.core.catalogue import DATA_DIR, CatalogueError, load_catalogue, load_catalogue_from
from touchup.core.findings import Finding

MAX_DETAILS = 500


@dataclass(frozen=True, slots=True)
class Question:
    key: str
    text: str
    details_prompt: str
    cosmetic: str  # severity of a "yes" for cosmetic indications
    therapeutic: str  # ... and for therapeutic ones
    message: str
    source: str
    indications: tuple[str, ...] | None = None  # None: asked for every indication


@dataclass(frozen=True, slots=True)
class ScreeningResult:
    findings: tuple[Finding, ...]
    blocking: bool
    requires_doctor: bool


class InvalidScreening(ValueError):
    """`question` is the key of the answer that is wrong ("answers" for the whole)."""

    def __init__(self, question: str, message: str):
        self.question, self.message = question, message
        super().__init__(message)


_QUESTION_FIELDS = {"key", "text", "details_prompt", "cosmetic", "therapeutic", "message", "src", "indications"}
_SEVERITIES = ("block", "warn")


def read_questions(data_dir: Path = DATA_DIR) -> tuple[Question, ...]:
    """The questions in `data_dir`/screening.toml, checked: a misspelt severity or
    indication would otherwise surface only when a patient answers yes, or never."""
    with (Path(data_dir) / "screening.toml").open("rb") as fh:
        raw = tomllib.load(fh).get("questions")
    cat = load_catalogue() if Path(data_dir) == DATA_DIR else load_catalogue_from(data_dir)

    def fail(where: str, message: str) -> CatalogueError:
        return CatalogueError("screening.toml", where, message)

    if not isinstance(raw, list) or not raw:
        raise fail("questions", "must list at least one [[questions]]")
    out, seen = [], set()
    for i, q in enumerate(raw):
        w = f"questions[{i}]"
        for k in q:
            if k not in _QUESTION_FIELDS:
                raise fail(f"{w}.{k}", "unknown field")
        for k in ("key", "text", "message"):
            if not isinstance(q.get(k), str) or not q[k].strip():
                raise fail(f"{w}.{k}", "must be non-empty text")
        if q["key"] in seen:
            raise fail(f"{w}.key", f"{q['key']!r} is asked twice")
        seen.add(q["key"])
        for k in ("cosmetic", "therapeutic"):
            if q.get(k) not in _SEVERITIES:
                raise fail(f"{w}.{k}", f"must be one of {', '.join(_SEVERITIES)}, got {q.get(k)!r}")
        src = q.get("src")
        if not isinstance(src, list) or not src:
            raise fail(f"{w}.src", "must list at least one source key")
        for s in src:
            if s not in cat.sources:
                raise fail(f"{w}.src", f"unknown source {s!r} (not in sources.toml)")
        if "indications" in q:
            if not isinstance(q["indications"], list) or not q["indications"]:
                raise fail(f"{w}.indications", "must list at least one indication")
            for ind in q["indications"]:
                if ind not in cat.indications:
                    raise fail(f"{w}.indications", f"unknown indication {ind!r}")
        out.append(Question(
            key=q["key"], text=q["text"], details_prompt=q.get("details_prompt", ""),
            cosmetic=q["cosmetic"], therapeutic=q["therapeutic"], message=q["message"],
            source=", ".join(src), indications=tuple(q["indications"]) if "indications" in q else None,
        ))
    return tuple(out)


QUESTIONS: tuple[Question, ...] = read_questions()


def questions_for(indication: str) -> tuple[Question, ...]:
    return tuple(q for q in QUESTIONS if q.indications is None or indication in q.indications)


def _answer(key: str, value: Any) -> tuple[bool, str]:
    if isinstance(value, bool):
        return value, ""
    if not isinstance(value, Mapping) or not isinstance(value.get("answer"), bool):
        raise InvalidScreening(key, "answer yes or no")
    details = value.get("details", "") or ""
    if not isinstance(details, str) or len(details) > MAX_DETAILS:
        raise InvalidScreening(key, f"details must be text of at most {MAX_DETAILS} characters")
    return value["answer"], details


def missing_details(answers: Any, indication: str) -> list[InvalidScreening]:
    """One error per question answered yes whose details it asks for are empty.

    Checked when a screening is recorded, not in `evaluate_screening`: screenings kept
    from before the rule still read (and still guard the chart) as they were."""
    if not isinstance(answers, Mapping):
        return []
    out = []
    for q in questions_for(indication):
        if not q.details_prompt or q.key not in answers:
            continue
        try:
            yes, details = _answer(q.key, answers[q.key])
        except InvalidScreening:
            continue  # evaluate_screening names that one
        if yes and not details.strip():
            out.append(InvalidScreening(
                q.key, f"“{q.text}” is answered yes: give the details ({q.details_prompt})",
            ))
    return out


def evaluate_screening(answers: Any, indication: str) -> ScreeningResult:
    """Findings for the answers; InvalidScreening when they are incomplete or malformed."""
    cat = load_catalogue()
    ind = cat.indications.get(indication)
    if ind is None:
        raise InvalidScreening("indication", f"unknown indication {indication!r}")
    if not isinstance(answers, Mapping):
        raise InvalidScreening("answers", "must map each question to its answer")
    asked = questions_for(indication)
    known = {q.key for q in QUESTIONS}
    for key in answers:
        if key not in known:
            raise InvalidScreening("answers", f"unknown question {str(key)[:40]!r}")
    findings = []
    for q in asked:
        if q.key not in answers:
            raise InvalidScreening(q.key, "is not answered")
        yes, details = _answer(q.key, answers[q.key])
        if yes:
            severity = q.therapeutic if ind.therapeutic else q.cosmetic
            message = q.message + (f" Patient said: {details.strip()}" if details.strip() else "")
            findings.append(Finding(severity=severity, code=f"screening_{q.key}", message=message,
                                    rule=f"screening.{q.key}", source=q.source))
    if ind.requires_doctor:
        findings.append(Finding(
            severity="info", code="doctor_signoff_required",
            message=f"{ind.name} is a therapeutic use: a doctor signs off this screening before treatment.",
            rule="screening.doctor_signoff", source="clinic_policy",
        ))
    return ScreeningResult(
        findings=tuple(findings),
        blocking=any(f.severity == "block" for f in findings),
        requires_doctor=ind.requires_doctor,
    )
