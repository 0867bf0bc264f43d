"""Messaging endpoints: thin, every write through messaging.services, every read scoped."""

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Status
from ninja.pagination import paginate

from backend.accounts.scoping import get_scoped_or_404, scoped
from backend.api import ERRORS
from backend.estate.models import Person
from messaging import audiences, services, sms, stats
from messaging.models import Campaign, InboundMessage, Message, Template
from messaging.schemas import (
    AnalyseIn,
    AnalysisOut,
    CampaignIn,
    CampaignOut,
    DecisionIn,
    InboundOut,
    MessageFilters,
    MessageOut,
    PreviewOut,
    ResendOut,
    TemplateOut,
    TemplatePreviewIn,
)
from messaging.views import filtered_messages

router = Router()


@router.post("/sms/analyse", response={200: AnalysisOut, **ERRORS})
def analyse_sms(request, payload: AnalyseIn):
    """Encoding, segments and cost of an SMS text, with the characters that force UCS-2 and
    their GSM replacements (the editor calls it while the agent types)."""
    result = sms.analyse(payload.text)
    return {**result.as_dict(), "replaced_text": sms.replace_forcing(payload.text)}


def _input(request, payload: CampaignIn) -> services.CampaignInput:
    texts = services.Texts(**payload.texts.dict())
    personalised = True
    if payload.template_id is not None and not (texts.wants_sms or texts.wants_email):
        # The template as written: its texts, and its variants for other languages.
        template = get_scoped_or_404(
            request.auth, Template.objects.prefetch_related("variants"), pk=payload.template_id
        )
        texts, personalised = services.template_texts(template), False
    return services.CampaignInput(
        title=payload.title,
        purpose=payload.purpose,
        audience=payload.audience.dict(),
        texts=texts,
        delivery=payload.delivery,
        template_id=payload.template_id,
        urgent=payload.urgent,
        personalised=personalised,
    )


def _preview_out(preview: audiences.Preview, data: services.CampaignInput) -> dict:
    example = (
        services.render_example(preview.first, data.texts, data.purpose) if preview.first else {}
    )
    return {
        "recipients": preview.recipients,
        "sms": preview.sms,
        "email": preview.email,
        "left_out": preview.reasons(),
        "example": example,
    }


@router.post("/campaigns/preview", response={200: PreviewOut, **ERRORS})
def preview_campaign(request, payload: CampaignIn):
    """Who would receive it, on which channel, who is left out and why; nothing is written."""
    data = _input(request, payload)
    return _preview_out(services.preview_campaign(request.auth, data), data)


def _campaign_out(campaign: Campaign, counts: stats.Counts) -> dict:
    return {
        "id": campaign.pk,
        "title": campaign.title,
        "purpose": campaign.purpose,
        "status": campaign.status,
        "failure": campaign.failure,
        "residence_id": campaign.residence_id,
        "author_id": campaign.author_id,
        "created_at": campaign.created_at,
        "counts": {
            "total": counts.total,
            "success": counts.success,
            "failed": counts.failed,
            "waiting": counts.waiting,
            "rate": counts.rate,
            "by_status": counts.by_status,
        },
    }


@router.post("/campaigns", response={201: CampaignOut, **ERRORS})
def create_campaign(request, payload: CampaignIn):
    """Send: the outbox is written by a job, nothing leaves from this request."""
    campaign = services.create_campaign(request.auth, _input(request, payload))
    return Status(201, _campaign_out(campaign, stats.Counts()))


class _CampaignPage:
    def __init__(self, queryset):
        self.queryset = queryset

    def __getitem__(self, item):
        page = list(self.queryset[item])
        counts = stats.by_campaign([c.pk for c in page])
        return [_campaign_out(c, counts.get(c.pk, stats.Counts())) for c in page]

    def __len__(self):
        return self.queryset.count()


@router.get("/campaigns", response={200: list[CampaignOut], **ERRORS})
@paginate
def list_campaigns(request):
    services.check_sender(request.auth)
    return _CampaignPage(scoped(request.auth, Campaign).order_by("-created_at", "-pk"))


@router.get("/campaigns/{int:campaign_id}", response={200: CampaignOut, **ERRORS})
def get_campaign(request, campaign_id: int):
    campaign = get_scoped_or_404(request.auth, Campaign, pk=campaign_id)
    return _campaign_out(
        campaign, stats.by_campaign([campaign.pk]).get(campaign.pk, stats.Counts())
    )


@router.post("/campaigns/{int:campaign_id}/resend-failed", response={200: ResendOut, **ERRORS})
def resend_failed(request, campaign_id: int):
    """Send the failed messages again on the other channel, to those who have it."""
    campaign = get_scoped_or_404(request.auth, Campaign, pk=campaign_id)
    return {"queued": services.resend_failed(request.auth, campaign)}


@router.get("/messages", response={200: list[MessageOut], **ERRORS})
@paginate
def list_messages(request, filters: Query[MessageFilters]):
    services.check_sender(request.auth)
    params = {
        "campagne": filters.campaign_id,
        "canal": filters.channel,
        "statut": filters.status,
        "residence": filters.residence_id,
        "auteur": filters.author_id,
        "du": filters.since.isoformat() if filters.since else None,
        "au": filters.until.isoformat() if filters.until else None,
        "a_verifier": filters.needs_review,
    }
    return filtered_messages(request.auth, params).order_by("-created_at", "-pk")


@router.post("/messages/{int:message_id}/decision", response={200: MessageOut, **ERRORS})
def decide(request, message_id: int, payload: DecisionIn):
    """For a message the provider could not confirm: it left ("sent") or send it again."""
    message = get_scoped_or_404(request.auth, Message, pk=message_id)
    return services.resolve_review(request.auth, message, payload.decision)


@router.get("/templates", response={200: list[TemplateOut], **ERRORS})
@paginate
def list_templates(request):
    templates = scoped(request.auth, Template).filter(is_active=True).prefetch_related("variants")
    return [
        {
            **{
                f: getattr(t, f)
                for f in (
                    "id",
                    "key",
                    "name",
                    "purpose",
                    "channels",
                    "organisation_id",
                    "agency_id",
                    "residence_id",
                )
            },
            "languages": sorted(v.language for v in t.variants.all()),
        }
        for t in templates.order_by("name")
    ]


@router.post("/templates/{int:template_id}/preview", response={200: dict, **ERRORS})
def preview_template(request, template_id: int, payload: TemplatePreviewIn):
    """A template rendered for a real recipient, in their language (or the one asked)."""
    template = get_scoped_or_404(
        request.auth, Template.objects.prefetch_related("variants"), pk=template_id
    )
    person = get_object_or_404(
        audiences._annotate(scoped(request.auth, Person)), pk=payload.person_id
    )
    recipient = audiences.Recipient(*[getattr(person, f) for f in audiences.PERSON_FIELDS])
    texts = services.template_texts(template, payload.language or person.language)
    return services.render_example(recipient, texts, template.purpose)


@router.get("/inbound", response={200: list[InboundOut], **ERRORS})
@paginate
def list_inbound(request, handled: bool | None = None):
    services.check_sender(request.auth)
    inbound = scoped(request.auth, InboundMessage)
    if handled is not None:
        inbound = inbound.filter(handled_at__isnull=not handled)
    return inbound.order_by("-received_at", "-pk")


@router.post("/inbound/{int:inbound_id}/handled", response={200: InboundOut, **ERRORS})
def inbound_handled(request, inbound_id: int):
    inbound = get_scoped_or_404(request.auth, InboundMessage, pk=inbound_id)
    return services.mark_inbound_handled(request.auth, inbound)
