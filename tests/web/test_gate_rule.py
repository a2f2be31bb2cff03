"""The gate rule, checked on the source: page and API code never reaches patient data
through a model manager, only through touchup.clinic.access (which filters by clinic,
answers 404 for other clinics' objects and audits the read)."""

import ast
from pathlib import Path

import touchup

GUARDED = {"Patient", "Treatment", "Screening", "Vial", "InjectionPoint"}
MANAGERS = {"objects", "_default_manager", "_base_manager"}
SRC = Path(touchup.__file__).resolve().parent
CHECKED = [SRC / "web", SRC / "api"]


def _model_name(node: ast.AST) -> str | None:
    # Patient.objects / models.Patient.objects / clinic.models.Patient.objects
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def violations(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in MANAGERS:
            name = _model_name(node.value)
            if name in GUARDED:
                found.append((node.lineno, f"{name}.{node.attr}"))
        # getattr(Patient, "objects") is the same thing spelled differently.
        if (
            isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
            and len(node.args) >= 2 and _model_name(node.args[0]) in GUARDED
            and isinstance(node.args[1], ast.Constant) and node.args[1].value in MANAGERS
        ):
            found.append((node.lineno, f"getattr({_model_name(node.args[0])}, {node.args[1].value!r})"))
    return found


def test_the_checker_catches_direct_queries():
    assert violations("Patient.objects.get(pk=1)") == [(1, "Patient.objects")]
    assert violations("from x import models\nmodels.Vial.objects.all()") == [(2, "Vial.objects")]
    assert violations("getattr(Treatment, 'objects')") == [(1, "getattr(Treatment, 'objects')")]
    assert violations("access.patients_visible_to(user).filter(pk=1)") == []


def test_no_view_module_queries_patient_data_directly():
    files = [p for d in CHECKED if d.exists() for p in d.rglob("*.py")]
    assert any(p.parent.name == "views" for p in files), "the web views were not found"
    bad = [
        f"{path.relative_to(SRC)}:{line}: {what}"
        for path in files
        for line, what in violations(path.read_text())
    ]
    assert not bad, "go through touchup.clinic.access instead:\n" + "\n".join(bad)
