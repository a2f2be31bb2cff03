"""Photo fixtures: a private media directory per test, and real photo files."""

import pytest


@pytest.fixture
def media(settings, tmp_path):
    """Photos go to a fresh directory for each test (the real FileSystemStorage)."""
    root = tmp_path / "media"
    root.mkdir()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": root, "base_url": None},
        },
    }
    return root


def stored_files(root):
    return sorted(p for p in root.rglob("*") if p.is_file())
