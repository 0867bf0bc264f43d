"""Import the tenants' documents and balances from the CSV files the landlord's ERP exports
(docs/tenants.md, "Back office"). The files are read as docs/import.md says (`;`, UTF-8 or
Windows-1252, a header line); the helpers are backend.estate.importers'.

| command                  | columns                                              |
| ------------------------ | ---------------------------------------------------- |
| import_tenant_documents  | reference_contrat; type; titre; periode; fichier     |
| import_balances          | reference_contrat; montant; date                     |

Rules, the same as the estate's import: a file-level problem imports nothing; a bad row is
reported with its line number and reason (in French) and skipped; the good rows are written
in one transaction, so that a crash never leaves half a file. One transaction per file rather
than per row: a household's documents of a month are replaced all at once or not at all, and
an interrupted import is simply run again (both imports are idempotent).

Documents: the rows of one household, kind and period replace that household's documents of
that kind and period, together; if one of them is wrong, none of them is imported (the old
documents stay). Files are PDF, 20 MB at most, named relative to the CSV file (or --base).
Files copied before a failure are removed; the replaced files are removed once the new rows
are committed.
"""

import contextlib
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils.translation import gettext as _

from backend.accounts.models import HouseholdBalance, HouseholdDocument
from backend.core.text import normalise
from backend.estate.importers import (
    ImportFileError,
    RowError,
    RowInvalid,
    parse_date,
    read_rows,
    required,
)
from backend.estate.models import Lease, Organisation, normalise_contract_reference

__all__ = ["ImportFileError", "import_balances", "import_documents"]

DOCUMENT_KINDS = {
    "avis": HouseholdDocument.Kind.RENT_NOTICE,
    "avis d echeance": HouseholdDocument.Kind.RENT_NOTICE,
    "avis echeance": HouseholdDocument.Kind.RENT_NOTICE,
    "quittance": HouseholdDocument.Kind.RECEIPT,
    "attestation": HouseholdDocument.Kind.CERTIFICATE,
}
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass
class DocumentReport:
    imported: int = 0
    replaced: int = 0
    errors: list[RowError] = field(default_factory=list)
    encoding: str = ""


@dataclass
class BalanceReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    encoding: str = ""


def _households(organisation: Organisation, rows) -> dict[str, int]:
    references = {
        normalise_contract_reference(row.get("reference_contrat", "")) for _line, row in rows if row
    }
    return dict(
        Lease.objects.filter(organisation=organisation, reference__in=references).values_list(
            "reference", "household_id"
        )
    )


def _household(row, households, organisation) -> int:
    try:
        reference = organisation.check_contract_reference(required(row, "reference_contrat", 30))
    except ValidationError as exc:
        raise RowInvalid(" ".join(exc.messages)) from None
    if reference not in households:
        raise RowInvalid(
            _("Unknown contract “%(reference)s”: import the leases first.")
            % {"reference": reference}
        )
    return households[reference]


def _period(value: str) -> date:
    found = _PERIOD.match(value or "")
    if not found or not 1 <= int(found.group(2)) <= 12:
        raise RowInvalid(
            _("periode: “%(value)s” is not a month written YYYY-MM (2026-01).") % {"value": value}
        )
    return date(int(found.group(1)), int(found.group(2)), 1)


def _document_file(value: str, base: Path) -> Path:
    path = Path(value)
    if not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise RowInvalid(_("fichier: “%(value)s” is not found.") % {"value": value})
    size = path.stat().st_size
    if size > MAX_DOCUMENT_BYTES:
        raise RowInvalid(
            _("fichier: “%(value)s” weighs more than %(limit)d MB.")
            % {"value": value, "limit": MAX_DOCUMENT_BYTES // (1024 * 1024)}
        )
    with path.open("rb") as handle:
        if not handle.read(5) == b"%PDF-":
            raise RowInvalid(_("fichier: “%(value)s” is not a PDF file.") % {"value": value})
    return path


@dataclass
class _Document:
    line: int
    household_id: int
    kind: str
    title: str
    period: date
    path: Path

    @property
    def key(self):
        return (self.household_id, self.kind, self.period)


def import_documents(
    data: bytes, organisation: Organisation, base: Path, dry_run: bool = False
) -> DocumentReport:
    rows, encoding, _present = read_rows(
        data, ["reference_contrat", "type", "titre", "periode", "fichier"], []
    )
    report = DocumentReport(encoding=encoding)
    households = _households(organisation, rows)
    good: list[_Document] = []
    bad_keys: dict[tuple, int] = {}
    titles: dict[tuple, int] = {}
    for line, row in rows:
        if row is None:
            report.errors.append(RowError(line, _("Wrong number of columns.")))
            continue
        key = None
        try:
            household = _household(row, households, organisation)
            kind = DOCUMENT_KINDS.get(normalise(row.get("type", "")))
            if kind is None:
                raise RowInvalid(
                    _("type: “%(value)s” is not one of: avis, quittance, attestation.")
                    % {"value": row.get("type", "")}
                )
            period = _period(row.get("periode", ""))
            key = (household, kind, period)
            title = required(row, "titre", 200)
            same = (*key, title)
            if same in titles:
                raise RowInvalid(
                    _("Same contract, type, period and title as line %(line)d.")
                    % {"line": titles[same]}
                )
            titles[same] = line
            path = _document_file(required(row, "fichier", 500), base)
        except RowInvalid as exc:
            report.errors.append(RowError(line, str(exc)))
            if key is not None:
                bad_keys.setdefault(key, line)
            continue
        good.append(_Document(line, household, kind, title, period, path))
    kept = []
    for document in good:
        if document.key in bad_keys:
            report.errors.append(
                RowError(
                    document.line,
                    _(
                        "Not imported: line %(line)d, of the same contract, type and period, is "
                        "wrong (the documents already there stay)."
                    )
                    % {"line": bad_keys[document.key]},
                )
            )
        else:
            kept.append(document)
    report.errors.sort(key=lambda e: e.line)
    keys = {d.key for d in kept}
    report.imported = len(kept)
    report.replaced = sum(
        HouseholdDocument.objects.filter(household_id=h, kind=k, period=p).count()
        for h, k, p in keys
    )
    if dry_run or not kept:
        return report
    _write_documents(kept, keys)
    return report


def _write_documents(documents: list[_Document], keys) -> None:
    stored: list[tuple] = []
    old_files: list[tuple] = []
    try:
        with transaction.atomic():
            for household, kind, period in keys:
                old = HouseholdDocument.objects.filter(
                    household_id=household, kind=kind, period=period
                )
                old_files += [(d.file.storage, d.file.name) for d in old if d.file]
                old.delete()
            for document in documents:
                row = HouseholdDocument(
                    household_id=document.household_id,
                    kind=document.kind,
                    title=document.title,
                    period=document.period,
                )
                with document.path.open("rb") as handle:
                    row.file.save(document.path.name, File(handle), save=False)
                stored.append((row.file.storage, row.file.name))
                row.save()
            transaction.on_commit(lambda: _remove(old_files))
    except BaseException:
        _remove(stored)
        raise


def _remove(files) -> None:
    for storage, name in files:
        with contextlib.suppress(OSError):
            storage.delete(name)


# --- balances ----------------------------------------------------------------------------------

_AMOUNT_NOISE = re.compile(r"[\s\u00a0\u202f€]")


def _amount(value: str) -> Decimal:
    text = _AMOUNT_NOISE.sub("", value or "").replace(",", ".")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or not text:
        raise RowInvalid(
            _("montant: “%(value)s” is not an amount (1234,56 or -12,50).") % {"value": value}
        )
    amount = amount.quantize(Decimal("0.01"))
    if abs(amount) >= Decimal("100000000"):
        raise RowInvalid(_("montant: “%(value)s” is too large.") % {"value": value})
    return amount


def import_balances(
    data: bytes, organisation: Organisation, dry_run: bool = False
) -> BalanceReport:
    rows, encoding, _present = read_rows(data, ["reference_contrat", "montant", "date"], [])
    report = BalanceReport(encoding=encoding)
    households = _households(organisation, rows)
    existing = {
        b.household_id: b
        for b in HouseholdBalance.objects.filter(household_id__in=set(households.values()))
    }
    seen: dict[int, int] = {}
    items = []
    for line, row in rows:
        if row is None:
            report.errors.append(RowError(line, _("Wrong number of columns.")))
            continue
        try:
            household = _household(row, households, organisation)
            amount = _amount(required(row, "montant", 30))
            as_of = parse_date(required(row, "date", 30), "date")
            if household in seen:
                raise RowInvalid(
                    _("Same household as line %(line)d: row ignored.") % {"line": seen[household]}
                )
            current = existing.get(household)
            if current is not None and current.as_of > as_of:
                raise RowInvalid(
                    _("Older than the balance already imported (%(date)s): row ignored.")
                    % {"date": current.as_of.strftime("%d/%m/%Y")}
                )
        except RowInvalid as exc:
            report.errors.append(RowError(line, str(exc)))
            continue
        seen[household] = line
        items.append((household, amount, as_of))
    created, updated = [], []
    for household, amount, as_of in items:
        current = existing.get(household)
        if current is None:
            created.append(HouseholdBalance(household_id=household, amount=amount, as_of=as_of))
        elif (current.amount, current.as_of) == (amount, as_of):
            report.unchanged += 1
        else:
            current.amount, current.as_of = amount, as_of
            updated.append(current)
    report.created, report.updated = len(created), len(updated)
    if not dry_run:
        with transaction.atomic():
            HouseholdBalance.objects.bulk_create(created, batch_size=500)
            HouseholdBalance.objects.bulk_update(updated, ["amount", "as_of"], batch_size=500)
    return report
