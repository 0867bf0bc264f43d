from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from backend.accounts.erp_import import ImportFileError, import_documents
from backend.estate.models import Organisation


def organisation_or_error(code: str) -> Organisation:
    try:
        return Organisation.objects.get(code=code)
    except Organisation.DoesNotExist:
        raise CommandError(_("Unknown organisation “%(code)s”.") % {"code": code}) from None


def read_or_error(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as exc:
        raise CommandError(
            _("Cannot read %(file)s: %(error)s") % {"file": file, "error": exc.strerror}
        ) from None


def report_errors(command: BaseCommand, errors) -> None:
    for error in errors:
        command.stderr.write(
            _("Line %(line)d: %(message)s") % {"line": error.line, "message": error.message}
        )


class Command(BaseCommand):
    help = _(
        "Import the households' rent notices, receipts and certificates (PDF) listed in a CSV "
        "file: reference_contrat; type; titre; periode; fichier (docs/tenants.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--organisation", required=True, help=_("Client code of the organisation.")
        )
        parser.add_argument(
            "--base",
            type=Path,
            help=_("Folder the file paths are relative to (default: the CSV file's folder)."),
        )
        parser.add_argument(
            "--dry-run", action="store_true", help=_("Check the file, write nothing.")
        )

    def handle(self, *args, file, organisation, base, dry_run, **options):
        org = organisation_or_error(organisation)
        data = read_or_error(file)
        try:
            report = import_documents(data, org, base or file.resolve().parent, dry_run=dry_run)
        except ImportFileError as exc:
            raise CommandError(_("Nothing imported. %(reason)s") % {"reason": exc}) from None
        report_errors(self, report.errors)
        summary = _(
            "%(imported)d documents imported, %(replaced)d older ones replaced, %(rejected)d "
            "rows rejected."
        ) % {
            "imported": report.imported,
            "replaced": report.replaced,
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
