from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from backend.accounts.erp_import import ImportFileError, import_balances
from backend.accounts.management.commands.import_tenant_documents import (
    organisation_or_error,
    read_or_error,
    report_errors,
)


class Command(BaseCommand):
    help = _(
        "Import the households' balances from a CSV file: reference_contrat; montant; date "
        "(docs/tenants.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--organisation", required=True, help=_("Client code of the organisation.")
        )
        parser.add_argument(
            "--dry-run", action="store_true", help=_("Check the file, write nothing.")
        )

    def handle(self, *args, file, organisation, dry_run, **options):
        org = organisation_or_error(organisation)
        data = read_or_error(file)
        try:
            report = import_balances(data, org, dry_run=dry_run)
        except ImportFileError as exc:
            raise CommandError(_("Nothing imported. %(reason)s") % {"reason": exc}) from None
        report_errors(self, report.errors)
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
