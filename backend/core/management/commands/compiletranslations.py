"""Compile the .po catalogues to .mo with Babel, so that set-up needs no gettext binaries.

(Django's compilemessages calls GNU msgfmt, which a fresh machine may lack; `make run` must
work without installing system packages. makemessages, for developers, still uses gettext.)
"""

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def catalogue_dirs() -> list[Path]:
    dirs = [Path(p) for p in settings.LOCALE_PATHS]
    dirs += [Path(app.path) / "locale" for app in apps.get_app_configs()]
    base = settings.BASE_DIR.resolve()
    return [
        d
        for d in dirs
        if d.is_dir() and d.resolve().is_relative_to(base) and ".venv" not in d.parts
    ]


class Command(BaseCommand):
    help = "Compile the project's .po translation catalogues to .mo (only those that changed)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Compile even if up to date.")

    def handle(self, *args, force=False, **options):
        compiled = 0
        for directory in catalogue_dirs():
            for po_path in sorted(directory.glob("*/LC_MESSAGES/*.po")):
                mo_path = po_path.with_suffix(".mo")
                if (
                    not force
                    and mo_path.exists()
                    and mo_path.stat().st_mtime >= po_path.stat().st_mtime
                ):
                    continue
                with po_path.open("rb") as handle:
                    try:
                        catalog = read_po(handle, locale=po_path.parts[-3])
                    except Exception as exc:
                        raise CommandError(f"{po_path}: {exc}") from exc
                tmp = mo_path.with_suffix(".mo.tmp")
                with tmp.open("wb") as handle:
                    write_mo(handle, catalog, use_fuzzy=False)
                tmp.replace(mo_path)
                compiled += 1
        self.stdout.write(f"{compiled} catalogue(s) compiled.")
