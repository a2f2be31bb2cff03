"""Start Django from a subcommand (lazily, so pure commands stay fast)."""

from __future__ import annotations

import os


def setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "touchup.settings")
    import django

    django.setup()
