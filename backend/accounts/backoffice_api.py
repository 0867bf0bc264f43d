"""The extranet's back office for integrations: the consents the landlord's ERP needs to print
(or not) the rent notices. GET /api/extranet/consents (JSON, paginated) and
/api/extranet/consents.csv (the same rows as the page's export), with a staff token."""

from datetime import date, datetime

from ninja import Router, Schema
from ninja.pagination import paginate

from backend.accounts import backoffice as bo
from backend.api import ERRORS

router = Router()


class ConsentAnswerOut(Schema):
    granted: bool | None
    version: str
    at: datetime | None


class ConsentRowOut(Schema):
    contract_reference: str
    household_id: int
    household: str
    residence_code: str
    end_date: date | None
    paperless: ConsentAnswerOut
    commercial: ConsentAnswerOut
    general: ConsentAnswerOut

    @staticmethod
    def resolve_contract_reference(lease):
        return lease.reference

    @staticmethod
    def resolve_household(lease):
        return lease.household.name

    @staticmethod
    def resolve_residence_code(lease):
        return lease.residence.code

    @staticmethod
    def _answer(lease, kind):
        at = getattr(lease, f"{kind}_at")
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        return {
            "granted": getattr(lease, f"{kind}_granted"),
            "version": getattr(lease, f"{kind}_version") or "",
            "at": at,
        }

    @staticmethod
    def resolve_paperless(lease):
        return ConsentRowOut._answer(lease, "paperless")

    @staticmethod
    def resolve_commercial(lease):
        return ConsentRowOut._answer(lease, "commercial")

    @staticmethod
    def resolve_general(lease):
        return ConsentRowOut._answer(lease, "general")


@router.get("/consents", response={200: list[ConsentRowOut], **ERRORS})
@paginate
def list_consents(request):
    """One row per contract in the caller's scope (current, or ended less than three months
    ago): the household's latest paperless, commercial and general answers, with their
    version and date (null: never answered; paper by default)."""
    return bo.consent_leases(request.auth)


@router.get("/consents.csv", response={200: None, **ERRORS})
def consents_csv(request):
    """The same rows as CSV (`;`, UTF-8 with a byte-order mark), as the page exports them."""
    from backend.accounts.backoffice_views import consents_csv_response

    return consents_csv_response(request.auth)
