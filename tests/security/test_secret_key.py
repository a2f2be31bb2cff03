"""The generated secret key: one per install, even when several processes start at once."""

import os
import stat
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).parents[2] / "src")
PRINT_KEY = "import touchup.settings as s; print(s.SECRET_KEY)"


def _starts(data_dir: Path, count: int) -> list[subprocess.Popen]:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "SECRET_KEY_FILE")}
    env.update(TOUCHUP_DATA_DIR=str(data_dir), PYTHONPATH=SRC)
    return [subprocess.Popen([sys.executable, "-c", PRINT_KEY], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(count)]


def test_processes_starting_together_on_a_new_install_share_one_complete_key(tmp_path):
    data_dir = tmp_path / "var"
    runs = [p.communicate(timeout=120) + (p.returncode,) for p in _starts(data_dir, 8)]
    assert [(code, err) for _, err, code in runs if code != 0] == []
    keys = {out.strip() for out, _, _ in runs}
    assert len(keys) == 1 and len(keys.pop()) >= 50
    # Only the key is left beside the data: no drafts, and only its owner may read it.
    assert sorted(p.name for p in data_dir.iterdir()) == ["secret_key"]
    assert stat.S_IMODE((data_dir / "secret_key").stat().st_mode) == 0o600


def test_an_existing_key_is_kept(tmp_path):
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    (data_dir / "secret_key").write_text("kept-" + "k" * 60 + "\n")
    out, err = _starts(data_dir, 1)[0].communicate(timeout=120)
    assert out.strip() == "kept-" + "k" * 60, err
