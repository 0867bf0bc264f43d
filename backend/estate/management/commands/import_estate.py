from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from backend.estate.importers import IMPORTERS, ImportFileError, import_file
from backend.estate.models import Organisation


class Command(BaseCommand):
    help = _(
        "Import residences, buildings, entrances, units, leases or tenants from a CSV file (docs/import.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=list(IMPORTERS))
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--organisation", required=True, help=_("Client code of the organisation.")
        )
        parser.add_argument(
            "--dry-run", action="store_true", help=_("Check the file, write nothing.")
        )

    def handle(self, *args, kind, file, organisation, dry_run, **options):
        try:
            org = Organisation.objects.get(code=organisation)
        except Organisation.DoesNotExist:
            raise CommandError(
                _("Unknown organisation “%(code)s”.") % {"code": organisation}
            ) from None
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(
                _("Cannot read %(file)s: %(error)s") % {"file": file, "error": exc.strerror}
            ) from None
        try:
            report = import_file(kind, data, org, dry_run=dry_run)
        except ImportFileError as exc:
            raise CommandError(_("Nothing imported. %(reason)s") % {"reason": exc}) from None
        for error in report.errors:
            self.stderr.write(
                _("Line %(line)d: %(message)s") % {"line": error.line, "message": error.message}
            )
        summary = _(
            "%(created)d created, %(updated)d updated, %(unchanged)d unchanged, %(rejected)d rejected."
        ) % {
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "rejected": len(report.errors),
        }
        if dry_run:
            summary = _("Dry run, nothing written: %(summary)s") % {"summary": summary}
        self.stdout.write(summary)
        if report.errors:
            raise CommandError(
                _("%(count)d row(s) rejected; the other rows were imported.")
                % {"count": len(report.errors)},
                returncode=1,
            )
