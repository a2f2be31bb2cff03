"""docs/self-hosting.md lists every environment variable Touchup reads: a variable added
to the settings or a command without a line in its table fails here."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# os.environ["X"], os.environ.get("X"), envbool("X"), envsecret("X") (which also reads X_FILE)
READ = re.compile(r"""(?:os\.environ\.get\(|os\.environ\[|envbool\(|(envsecret)\()\s*["']([A-Z][A-Z0-9_]+)["']""")
NOT_OURS = {"DJANGO_SETTINGS_MODULE", "GLOG_minloglevel"}  # set by Touchup for libraries, not read from you


def _read_by_touchup() -> set[str]:
    names = set()
    for path in (ROOT / "src" / "touchup").rglob("*.py"):
        for secret, name in READ.findall(path.read_text()):
            names.add(name)
            if secret:
                names.add(f"{name}_FILE")
    return names - NOT_OURS


def test_every_variable_touchup_reads_is_in_the_table():
    doc = (ROOT / "docs" / "self-hosting.md").read_text()
    table = doc.split("## 11. Environment variables", 1)[1]
    listed = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", table, re.M))
    read = _read_by_touchup()
    assert len(read) > 20, read  # the pattern still finds them
    assert not read - listed, f"read but not in docs/self-hosting.md: {sorted(read - listed)}"
