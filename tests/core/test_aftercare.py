"""The patient's aftercare plan for one treatment: the steps and their times, the warning
signs, and the steps that belong to some treatments only."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from touchup.core.aftercare import AftercarePlan, aftercare_plan, read_aftercare
from touchup.core.catalogue import DATA_DIR, CatalogueError, load_catalogue

CAT = load_catalogue()
LONDON = ZoneInfo("Europe/London")
TREATED = dt.datetime(2026, 5, 1, 16, 30, tzinfo=LONDON)  # a Friday afternoon


def step(plan: AftercarePlan, words: str):
    (s,) = [s for s in plan.steps if words in s.instruction]
    return s


def has(plan: AftercarePlan, words: str) -> bool:
    return any(words in s.instruction for s in plan.steps)


@pytest.fixture
def cosmetic() -> AftercarePlan:
    return aftercare_plan(treated_at=TREATED, indication="glabellar_lines", areas=["glabella"])


@pytest.fixture
def migraine() -> AftercarePlan:
    return aftercare_plan(treated_at=TREATED, indication="chronic_migraine", areas=["migraine"])


def test_exercise_resumes_at_midnight_starting_the_day_after_tomorrow(cosmetic, migraine):
    for plan in (cosmetic, migraine):
        s = step(plan, "Skip exercise")
        assert s.starts_at == TREATED
        assert s.until == dt.datetime(2026, 5, 3, 0, 0, tzinfo=LONDON)
        assert s.until.tzinfo is TREATED.tzinfo
    late = aftercare_plan(treated_at=dt.datetime(2026, 5, 1, 23, 59, tzinfo=LONDON),
                          indication="glabellar_lines", areas=["glabella"])
    assert step(late, "Skip exercise").until == dt.datetime(2026, 5, 3, 0, 0, tzinfo=LONDON)


def test_stay_upright_for_4_hours(cosmetic, migraine):
    for plan in (cosmetic, migraine):
        s = step(plan, "Stay upright for 4 hours")
        assert (s.starts_at, s.until) == (TREATED, TREATED + dt.timedelta(hours=4))
        assert s.why and s.source


def test_no_rubbing_and_no_heat(cosmetic):
    assert step(cosmetic, "Don't rub").until == TREATED + dt.timedelta(hours=24)
    assert step(cosmetic, "No saunas").until == TREATED + dt.timedelta(hours=48)


def test_warning_signs_and_urgent_text(cosmetic, migraine):
    for plan in (cosmetic, migraine):
        urgent = " ".join(plan.urgent_signs).lower()
        for words in ("swallowing", "breathing", "speaking"):
            assert words in urgent
            assert words in plan.urgent_text
        assert plan.warning_signs == plan.urgent_signs + plan.contact_clinic_signs
        assert plan.warning_signs[0] == "Trouble swallowing, speaking or breathing"
        assert any("drooping eyelid" in s for s in plan.contact_clinic_signs)
        assert "emergency" in plan.urgent_text and "hours to weeks" in plan.urgent_text
        assert plan.source == "S9, S137, S97"


def test_steps_are_in_the_order_they_start_and_all_carry_sources(cosmetic, migraine):
    for plan in (cosmetic, migraine):
        assert [s.starts_at for s in plan.steps] == sorted(s.starts_at for s in plan.steps)
        known = set(CAT.sources)
        for s in plan.steps:
            assert s.source and set(s.source.split(", ")) <= known
            assert s.until is None or s.until > s.starts_at
        assert plan.treated_at == TREATED


def test_steps_that_start_together_end_soonest_first(cosmetic, migraine):
    # The sheet reads as a timeline: "4 hours", "until tomorrow", "a week", then open-ended.
    for plan in (cosmetic, migraine):
        never = dt.datetime.max.replace(tzinfo=TREATED.tzinfo)
        keys = [(s.starts_at, s.until or never) for s in plan.steps]
        assert keys == sorted(keys)
    assert cosmetic.steps[0].until == TREATED + dt.timedelta(hours=4)


def test_cosmetic_only_steps(cosmetic, migraine):
    for words in ("No facials", "The effect starts in 2 to 5 days", "Take photos"):
        assert has(cosmetic, words)
        assert not has(migraine, words)
    photos = step(cosmetic, "Take photos")
    assert photos.starts_at == TREATED + dt.timedelta(days=14) and photos.until is None
    assert step(cosmetic, "No facials").until == TREATED + dt.timedelta(days=7)


def test_area_specific_steps_only_where_they_apply(cosmetic, migraine):
    dystonia = aftercare_plan(treated_at=TREATED, indication="cervical_dystonia", areas=["cervical_dystonia"])
    assert has(migraine, "headache diary") and not has(migraine, "neck symptoms")
    assert has(dystonia, "neck symptoms") and not has(dystonia, "headache diary")
    assert not has(cosmetic, "headache diary") and not has(cosmetic, "neck symptoms")
    assert not has(dystonia, "No facials")
    # The common steps are in every plan.
    for plan in (cosmetic, migraine, dystonia):
        for words in ("Stay upright", "Don't rub", "Skip exercise", "No saunas", "Avoid alcohol", "Small bumps"):
            assert has(plan, words)


def test_no_areas_means_the_indications_areas():
    assert aftercare_plan(treated_at=TREATED, indication="chronic_migraine", areas=[]) == \
        aftercare_plan(treated_at=TREATED, indication="chronic_migraine", areas=["migraine"])


def test_a_naive_time_gives_naive_times():
    plan = aftercare_plan(treated_at=dt.datetime(2026, 5, 1, 9), indication="platysma_bands", areas=["platysma"])
    assert step(plan, "Skip exercise").until == dt.datetime(2026, 5, 3)


# --- the aftercare file is checked as it loads -----------------------------------------


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


def test_read_aftercare_from_a_copy(data_copy):
    assert read_aftercare(data_copy) == read_aftercare()


UPRIGHT = 'from_hours = 0\nuntil_hours = 4\nsrc = ["S90", "S88"]'


@pytest.mark.parametrize("old,new,where,message", [
    (UPRIGHT, 'from_hours = 0\nuntil_hours = 4\nsrc = ["S90", "S0"]', "steps[0].src", "unknown source 'S0'"),
    (UPRIGHT, "from_hours = 0\nuntil_hours = 4", "steps[0].src", "at least one source"),
    (UPRIGHT, 'from_hours = 0\nuntil_hours = 4\nuntil_day = 1\nsrc = ["S90"]', "steps[0]", "not both"),
    (UPRIGHT, 'from_hours = 0\nuntil_hour = 4\nsrc = ["S90"]', "steps[0].until_hour", "unknown field"),
    (UPRIGHT, 'from_hours = 5\nuntil_hours = 4\nsrc = ["S90"]', "steps[0].until_hours", "after from_hours"),
    (UPRIGHT, 'from_hours = -1\nuntil_hours = 4\nsrc = ["S90"]', "steps[0].from_hours", "0 or more"),
    (UPRIGHT, 'from_hours = 0\nuntil_hours = "4"\nsrc = ["S90"]', "steps[0].until_hours", "number of hours"),
    ("until_day = 2", "until_day = 0", "steps[2].until_day", "1 or more"),
    ('kinds = ["cosmetic"]', 'kinds = ["cosmetics"]', "steps[5].kinds", "unknown kind 'cosmetics'"),
    ('areas = ["migraine"]', 'areas = ["head"]', "steps[9].areas", "unknown area 'head'"),
    ('areas = ["migraine"]', "areas = []", "steps[9].areas", "at least one"),
    ("instruction = \"Stay upright for 4 hours: don't lie down, nap or bend over for long.\"", 'instruction = "  "',
     "steps[0].instruction", "non-empty text"),
    ('urgent_text = "', 'urgent_txt = "', "warning_signs.urgent_text", "non-empty text"),
    ("urgent = [", "urgent = [] \nformer = [", "warning_signs.urgent", "at least one sign"),
    ('src = ["S9", "S137", "S97"]', 'src = ["S9", "S1370"]', "warning_signs.src", "unknown source 'S1370'"),
    ("[warning_signs]", "[warnings]", "warning_signs", "is missing"),
    ("[[steps]]", "[[step]]", "steps", "at least one"),
])
def test_read_aftercare_refuses_a_defect(data_copy, old, new, where, message):
    path = data_copy / "aftercare.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new) if old == "[[steps]]" else text.replace(old, new, 1))
    with pytest.raises(CatalogueError) as exc:
        read_aftercare(data_copy)
    assert (exc.value.file, exc.value.where) == ("aftercare.toml", where)
    assert message in str(exc.value)
