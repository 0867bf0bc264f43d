"""French first: every user-visible string is in the French catalogue, translated, not fuzzy."""

import shutil
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "locale" / "fr" / "LC_MESSAGES" / "django.po"


def read(path):
    with path.open("rb") as handle:
        return read_po(handle, locale="fr")


def test_the_french_catalogue_is_complete_and_current(tmp_path):
    backup = tmp_path / "django.po"
    shutil.copy2(CATALOGUE, backup)
    try:
        # makemessages rewrites the catalogue in place: extract, read, then put it back.
        subprocess.run(
            [
                sys.executable,
                "manage.py",
                "makemessages",
                "--locale",
                "fr",
                "--no-obsolete",
                "--ignore",
                ".venv/*",
                "--ignore",
                "var/*",
                "--ignore",
                "bench/*",
                "--ignore",
                "tests/*",
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        extracted = read(CATALOGUE)
    finally:
        shutil.copy2(backup, CATALOGUE)
    committed = read(CATALOGUE)
    missing = sorted(str(m.id) for m in extracted if m.id and m.id not in committed)
    assert not missing, f"run `make messages` and translate: {missing[:10]}"
    untranslated = [
        str(m.id)
        for m in committed
        if m.id and not (m.string if isinstance(m.string, str) else all(m.string))
    ]
    assert not untranslated, untranslated[:10]
    fuzzy = [str(m.id) for m in committed if m.id and m.fuzzy]
    assert not fuzzy, fuzzy[:10]


def test_french_is_the_default_language(settings):
    assert settings.LANGUAGE_CODE == "fr" and settings.TIME_ZONE == "Europe/Paris"
    assert [code for code, _ in settings.LANGUAGES] == ["fr", "en"]
