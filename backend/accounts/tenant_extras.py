"""What the tenant's space shows besides the account: the balance and documents last imported
from the ERP, the home-insurance certificate (loi 89-462 art. 7 g), the household's requests
and a new one, the tenant's own data (an access request), the help form, the texts accepted."""

import json
import uuid
from datetime import date

from django import forms
from django.conf import settings
from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from backend.accounts import tenancy
from backend.accounts.forms import client_address
from backend.accounts.models import (
    AuditRecord,
    Consent,
    HelpRequest,
    HouseholdBalance,
    HouseholdDocument,
    InsuranceCertificate,
)
from backend.accounts.tenant_forms import HelpForm, attach
from backend.accounts.tenant_space import tenant_required, writable
from backend.accounts.tenant_views import organisation_of
from backend.core import images
from backend.core.errors import ServiceError
from backend.estate.models import Lease

INSURANCE_TYPES = {"application/pdf", "image/jpeg", "image/png"}
INSURANCE_MAX_BYTES = 10_000_000


def space_context(account) -> dict:
    household = account.current_household
    if household is None:
        return {}
    return {
        "balance": HouseholdBalance.objects.filter(household=household).first(),
        "documents": list(HouseholdDocument.objects.filter(household=household)[:12]),
        "insurance": InsuranceCertificate.objects.filter(household=household).first(),
        "requests": list(
            tenancy.visible_requests(account)
            .select_related("residence")
            .order_by("-created_at")[:20]
        ),
    }


def document_of(account, pk) -> HouseholdDocument:
    """A document of one of the account's homes; anyone else's is "not found"."""
    doc = HouseholdDocument.objects.filter(pk=pk, household__account_homes__account=account).first()
    if doc is None:
        raise Http404
    return doc


def document_response(doc: HouseholdDocument) -> FileResponse:
    return FileResponse(
        doc.file.open("rb"), as_attachment=True, filename=doc.file.name.rsplit("/", 1)[-1]
    )


@tenant_required
@require_GET
def document(request, account, pk):
    return document_response(document_of(account, pk))


class InsuranceForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Certificate (PDF, JPEG or PNG, 10 MB at most)"))
    insurer = forms.CharField(label=gettext_lazy("Insurer"), max_length=200, required=False)
    valid_until = forms.DateField(
        label=gettext_lazy("Valid until"), widget=forms.DateInput(attrs={"type": "date"})
    )


def _sniff(data: bytes) -> str:
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return ""


def save_insurance(account, upload, insurer: str, valid_until: date) -> InsuranceCertificate:
    """The tenant's certificate: a PDF, JPEG or PNG (sniffed, not trusted from its name) of
    10 MB at most, still valid; a photo is stripped of its metadata like every photo."""
    from django.core.files.base import ContentFile

    tenancy.check_writable(account)
    data = upload.read(INSURANCE_MAX_BYTES + 1)
    kind = _sniff(data)
    if len(data) > INSURANCE_MAX_BYTES:
        raise ValidationError({"file": [_("The file is too big (10 MB at most).")]})
    if kind not in INSURANCE_TYPES:
        raise ValidationError({"file": [_("Send a PDF, JPEG or PNG file.")]})
    if valid_until < timezone.localdate():
        raise ValidationError({"valid_until": [_("This certificate has already expired.")]})
    if kind != "application/pdf":
        data = images.process(data).image
    household = account.current_household
    certificate = InsuranceCertificate(
        household=household,
        insurer=(insurer or "")[:200],
        valid_until=valid_until,
        uploaded_by=account.user,
    )
    extension = "pdf" if kind == "application/pdf" else "jpg"
    certificate.file.save(f"{uuid.uuid4()}.{extension}", ContentFile(data), save=True)
    tenancy.audit(
        "insurance_uploaded",
        organisation_id=account.organisation_id,
        account=account,
        household=household,
        actor=account.user,
    )
    return certificate


@tenant_required
@writable
@require_http_methods(["GET", "POST"])
def insurance(request, account):
    household = account.current_household
    form = InsuranceForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and not account.read_only and form.is_valid():
        data = form.cleaned_data
        try:
            save_insurance(account, data["file"], data["insurer"], data["valid_until"])
        except ValidationError as exc:
            attach(form, exc)
        else:
            flash.success(request, _("Thank you: your certificate is sent to your agency."))
            return redirect("tenants:insurance")
    return render(
        request,
        "tenants/insurance.html",
        {
            "form": form,
            "certificates": InsuranceCertificate.objects.filter(household=household)[:5],
            "read_only": account.read_only,
        },
    )


def request_of(account, pk):
    """One of the household's requests and its timeline as the tenant sees it: no staff-only
    line, no note. Another household's request is "not found"."""
    from tickets.models import Event

    obj = (
        tenancy.visible_requests(account).select_related("residence__agency").filter(pk=pk).first()
    )
    if obj is None:
        raise Http404
    events = obj.events.filter(internal=False).exclude(kind=Event.Kind.NOTE).order_by("at", "id")
    return obj, events


@tenant_required
@require_GET
def request_detail(request, account, pk):
    obj, events = request_of(account, pk)
    return render(request, "tenants/request.html", {"r": obj, "events": events})


class NewRequestForm(forms.Form):
    category = forms.ChoiceField(label=gettext_lazy("What is it about?"))
    place = forms.ChoiceField(
        label=gettext_lazy("Where?"),
        choices=[
            ("unit", gettext_lazy("In my home")),
            ("entrance", gettext_lazy("In the common areas of my entrance")),
        ],
        widget=forms.RadioSelect,
        initial="unit",
    )
    description = forms.CharField(
        label=gettext_lazy("Describe the problem"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    photo = forms.ImageField(label=gettext_lazy("Photo (optional)"), required=False)

    def __init__(self, *args, **kwargs):
        from tickets.services import new_category_choices

        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", "—"), *new_category_choices()]


def request_lease(account) -> Lease:
    """The lease a new request is about: the current home's, while the tenant lives there."""
    if account.read_only:
        raise Http404
    lease = (
        Lease.objects.current()
        .filter(household=account.current_household)
        .select_related("unit")
        .first()
    )
    if lease is None:
        raise Http404
    return lease


PLACES = ("unit", "entrance")


def submit_request(account, *, category: str, place: str, description: str, photo=None):
    """A new request from the tenant space (channel "portal"): in the home, or in the common
    areas of its entrance; an optional photo, stripped of its metadata."""
    from tickets import services as tickets

    tenancy.check_writable(account)
    lease = request_lease(account)
    if place not in PLACES:
        raise ValidationError({"place": [_("This value is not one of the allowed choices.")]})
    in_unit = place == "unit"
    data = images.read_upload(photo)
    created = tickets.create_request(
        None,
        tickets.RequestInput(
            unit_id=lease.unit_id if in_unit else None,
            entrance_id=None if in_unit else lease.unit.entrance_id,
            category=category,
            description=description,
            person_id=account.person_id if in_unit else None,
            contact_email=account.email if not in_unit else "",
        ),
        "portal",
        residences=[lease.residence_id],
        label=_("%(name)s (tenant space)") % {"name": account.user.get_full_name()},
    )
    if not in_unit and account.person_id:
        type(created).objects.filter(pk=created.pk).update(
            household=account.current_household, person=account.person
        )
    if data:
        tickets.add_photo(account.user, created, uuid.uuid4(), data)
    return created


@tenant_required
@require_http_methods(["GET", "POST"])
def new_request(request, account):
    try:
        tenancy.ensure_writable(account)
    except ServiceError as exc:
        flash.error(request, exc.message)
        return redirect("tenants:space")
    request_lease(account)
    form = NewRequestForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created = submit_request(
                account,
                category=data["category"],
                place=data["place"],
                description=data["description"],
                photo=data.get("photo"),
            )
        except (ValidationError, ServiceError) as exc:
            attach(form, exc) if isinstance(exc, ValidationError) else form.add_error(
                None, exc.message
            )
        else:
            flash.success(
                request,
                _("Your request %(reference)s is registered.") % {"reference": created.reference},
            )
            return redirect("tenants:request", pk=created.pk)
    return render(request, "tenants/new_request.html", {"form": form})


def export_data(account) -> dict:
    """Everything the account holds about the tenant, and the household's data it reads."""
    household = account.current_household
    person = account.person
    leases = Lease.objects.filter(household__account_homes__account=account).select_related(
        "residence", "unit"
    )
    return {
        "exported_at": timezone.now(),
        "account": {
            "email": account.email,
            "mobile": account.mobile,
            "status": account.status,
            "created_at": account.created_at,
            "activated_at": account.activated_at,
            "last_seen_at": account.last_seen_at,
        },
        "person": {
            "first_name": person.first_name,
            "last_name": person.last_name,
            "email": person.email,
            "mobile": person.mobile,
            "preferred_channel": person.preferred_channel,
            "language": person.language,
        }
        if person
        else None,
        "homes": [
            {
                "contract": f"L{lease.reference}",
                "residence": lease.residence.name,
                "unit": str(lease.unit),
                "start": lease.start_date,
                "end": lease.end_date,
            }
            for lease in leases
        ],
        "consents": [
            {
                "kind": c.kind,
                "granted": c.granted,
                "version": c.version,
                "at": c.at,
                "source": c.source,
            }
            for c in Consent.objects.filter(household__account_homes__account=account).order_by(
                "at"
            )
        ],
        "requests": [
            {
                "reference": r.reference,
                "category": r.category,
                "status": r.status,
                "created_at": r.created_at,
                "description": r.description,
            }
            for r in tenancy.visible_requests(account).order_by("created_at")
        ],
        "messages": [
            {
                "channel": m.channel,
                "to": m.to,
                "subject": m.subject,
                "body": m.body,
                "at": m.created_at,
            }
            for m in (person.messages.order_by("created_at") if person else [])
        ],
        "insurance_certificates": [
            {"insurer": c.insurer, "valid_until": c.valid_until, "uploaded_at": c.uploaded_at}
            for c in InsuranceCertificate.objects.filter(household=household)
        ],
        "history": [
            {"action": a.action, "at": a.at, "by": a.actor_label}
            for a in AuditRecord.objects.filter(account=account).order_by("at")
        ],
    }


def export_for(account) -> dict:
    """The export, recorded in the account's history (an access request)."""
    data = export_data(account)
    tenancy.audit(
        "data_exported",
        organisation_id=account.organisation_id,
        account=account,
        actor=account.user,
    )
    return data


@tenant_required
@require_GET
def my_data(request, account):
    data = export_for(account)
    if request.GET.get("format") == "json":
        response = HttpResponse(
            json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2),
            content_type="application/json; charset=utf-8",
        )
        response["Content-Disposition"] = 'attachment; filename="mes-donnees.json"'
        return response
    return render(request, "tenants/my_data.html", {"data": data})


def send_help(
    organisation, address: str, *, name: str, contact: str, contract_reference: str, message: str
) -> HelpRequest:
    """ "Need help to log in?": the message reaches the advisors of the contract's agency (of
    the landlord when the reference matches nothing; nothing is said either way)."""
    from backend.estate.models import normalise_contract_reference
    from tickets.public import allow_report

    allow_report(address)
    reference = normalise_contract_reference(contract_reference)
    lease = (
        Lease.objects.filter(organisation=organisation, reference=reference).first()
        if reference
        else None
    )
    return HelpRequest.objects.create(
        organisation=organisation,
        name=name,
        contact=contact,
        contract_reference=reference,
        message=message,
        household=lease.household if lease else None,
        residence=lease.residence if lease else None,
    )


@require_http_methods(["GET", "POST"])
def help_view(request):
    """ "Need help to log in?": a message to the agency's advisors (no account needed)."""
    organisation = organisation_of(request)
    form = HelpForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and organisation is not None:
        try:
            send_help(organisation, client_address(request), **form.cleaned_data)
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            return render(request, "tenants/help_sent.html")
    return render(request, "tenants/help.html", {"form": form})


@require_GET
def terms(request):
    return render(
        request,
        "tenants/terms.html",
        {"version": settings.TENANT_TERMS_VERSION, "today": date.today()},
    )


@require_GET
def privacy(request):
    return render(
        request,
        "tenants/privacy.html",
        {
            "version": settings.TENANT_PRIVACY_VERSION,
            "deactivate_days": settings.TENANT_DEACTIVATE_DAYS,
            "anonymise_days": settings.TENANT_ANONYMISE_DAYS,
            "lease_years": settings.LEASE_RETENTION_YEARS,
            "request_years": settings.REQUEST_RETENTION_YEARS,
            "accounting_years": settings.ACCOUNTING_RETENTION_YEARS,
        },
    )
