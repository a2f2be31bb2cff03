"""Warning keys: what a clinician accepts when signing over a warning names it exactly."""

from touchup.core.findings import Finding, is_bare_code, unaccepted_warnings


def warn(code, message, site=None):
    return Finding("warn", code, message, "rule", "S1", site=site)


def test_a_key_names_code_site_and_the_message():
    f = warn("above_label_site", "5 U at Procerus is above the label's 4 U there.", site="procerus")
    assert f.key.startswith("above_label_site@procerus#")
    assert warn("above_label_total", "21 U in this session is above the label's 20 U.").key.startswith("above_label_total@#")


def test_a_bigger_dose_at_the_same_site_is_another_warning():
    five = warn("above_label_site", "5 U at Procerus is above the label's 4 U there.", site="procerus")
    six = warn("above_label_site", "6 U at Procerus is above the label's 4 U there.", site="procerus")
    assert five.key != six.key
    assert unaccepted_warnings([six], [five.key]) == [six]


def test_a_second_warning_with_the_same_code_and_no_site_is_not_accepted_by_the_first():
    a = warn("above_muscle_limit", "12 U into the corrugator, above 10 U.")
    b = warn("above_muscle_limit", "9 U into the procerus, above 8 U.")
    assert unaccepted_warnings([a, b], [a.key]) == [b]


def test_every_standing_warning_accepted_signs_and_blocks_and_info_need_none():
    w = warn("touch_up", "A touch-up within two weeks.")
    block = Finding("block", "over_session_maximum", "Too much.", "rule", "S1")
    info = Finding("info", "note", "Context.", "rule", "S1")
    assert unaccepted_warnings([w, block, info], [w.key]) == []
    assert unaccepted_warnings([w], ["touch_up"]) == [w]  # a code alone is not the warning


def test_a_code_alone_is_told_from_a_key():
    assert is_bare_code("above_label_site")
    assert not is_bare_code(warn("x", "y").key)
