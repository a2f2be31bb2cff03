"""The treatment list's pager counts only a bounded number of rows ahead (so a large
clinic's list does not count every treatment), and its totals are the page's own."""

from django.urls import reverse


def _start(draft, n):
    from touchup.clinic.services.treatments import treatment_start

    for _ in range(n):
        treatment_start(actor=draft.clinician, patient=draft.patient, indication="glabellar_lines",
                        product="onabotulinumtoxinA", protocol=draft.protocol)


def test_a_long_list_says_more_than_and_still_pages_on(as_clinician, draft, monkeypatch):
    from touchup.web import selectors

    monkeypatch.setattr(selectors, "COUNT_AHEAD", 2)
    _start(draft, 8)  # 9 treatments, 25 a page: count cap 25 + 2 → exact
    html = as_clinician.get(reverse("treatments")).content.decode()
    assert "more than" not in html

    page = selectors.clinic_treatments(draft.clinician, page=1, per_page=2)
    assert page.paginator.capped and page.paginator.known_pages == 2 and page.has_next()
    deeper = selectors.clinic_treatments(draft.clinician, page=4, per_page=2)
    assert deeper.number == 4 and deeper.has_next()  # the cap moves with the page asked for
    last = selectors.clinic_treatments(draft.clinician, page=99, per_page=2)
    assert last.number == 5 and not last.has_next() and not last.paginator.capped
    assert len(last.object_list) == 1


def test_the_pager_text_when_capped(as_clinician, draft, monkeypatch):
    from touchup.web import selectors

    monkeypatch.setattr(selectors, "COUNT_AHEAD", 0)
    _start(draft, 30)  # 31 treatments: page 1 counts at most 25 + 0 + 1
    html = as_clinician.get(reverse("treatments")).content.decode()
    assert "Page 1 of more than 1" in html


def test_totals_are_each_rows_own(as_clinician, draft):
    html = as_clinician.get(reverse("treatments")).content.decode()
    # The glabellar protocol's five sites of 4 U.
    assert ">20<" in html
