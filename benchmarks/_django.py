"""Django for the benchmarks that write (drafts, exports, audit events): never the clinic's
own ./var, but TOUCHUP_DATA_DIR or DATABASE_URL when set, else SQLite in a throwaway
directory under the system's temporary folder, migrated."""

from __future__ import annotations

import os
import tempfile


def setup_throwaway(name: str) -> None:
    if not (os.environ.get("TOUCHUP_DATA_DIR") or os.environ.get("DATABASE_URL")):
        os.environ["TOUCHUP_DATA_DIR"] = os.path.join(tempfile.gettempdir(), f"touchup-bench-{name}")
        print(f"database: SQLite under {os.environ['TOUCHUP_DATA_DIR']} (set TOUCHUP_DATA_DIR or DATABASE_URL)")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "touchup.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
