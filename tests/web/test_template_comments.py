"""Django's {# … #} comment is one line only: one left open at the line's end is not a
comment, and its text (notes for developers) is printed on the page for everyone to read.
A note over several lines is {% comment %} … {% endcomment %}."""

from pathlib import Path

import touchup

ROOT = Path(touchup.__file__).parent


def test_no_template_comment_runs_over_a_line():
    open_comments = []
    for path in sorted(ROOT.rglob("templates/**/*")):
        if path.suffix not in (".html", ".txt", ".ics", ".xml") or not path.is_file():
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            # Every {# on the line must be closed by a #} after it, on the same line.
            rest = line
            while "{#" in rest:
                rest = rest[rest.index("{#") + 2:]
                if "#}" not in rest:
                    open_comments.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:80]}")
                    break
                rest = rest[rest.index("#}") + 2:]
    assert not open_comments, "a {# comment left open at the end of its line is printed:\n" + "\n".join(open_comments)
