"""Messaging pages: compose a send, supervise every send, read inbound SMS, unsubscribe."""

from datetime import datetime, time

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.html import strip_tags
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from backend.accounts.models import User
from backend.accounts.scoping import get_scoped_or_404, scoped
from backend.core.errors import ServiceError
from backend.estate.models import Residence
from messaging import rendering, services, sms, stats
from messaging.forms import ComposeForm
from messaging.models import Campaign, Channel, InboundMessage, Message, Purpose, Template


@login_required
@require_http_methods(["GET", "POST"])
def compose(request):
    """Write a send: the place, a template (loaded by a separate GET form, so that Enter in a
    field never throws the texts away), the texts; then the preview (recipients, who is left
    out, parts and cost, the first recipient's message), then the send."""
    services.check_sender(request.user)
    initial = {}
    target = request.GET.get("cible") or request.GET.get("target")
    if target:
        initial["target"] = target
    templates = scoped(request.user, Template).filter(is_active=True).order_by("name")
    chosen = None
    template_id = request.GET.get("modele") or ""
    if template_id.isdigit():
        chosen = templates.filter(pk=int(template_id)).prefetch_related("variants").first()
        if chosen:
            texts = services.template_texts(chosen)
            initial.update(
                template=chosen.pk,
                purpose=chosen.purpose,
                title=chosen.name,
                sms_body=texts.sms_body,
                email_subject=texts.email_subject,
                email_text=texts.email_text or strip_tags(texts.email_html),
            )
    form = ComposeForm(request.user, request.POST or None, initial=initial)
    preview = analysis = None
    example = {}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        template = data["template"]
        texts = services.Texts(data["sms_body"], data["email_subject"], data["email_text"], "")
        personalised = True
        if template is not None and not _texts_changed(template, data):
            # The template as written: its HTML too, and its variants for other languages.
            texts, personalised = services.template_texts(template), False
        payload = services.CampaignInput(
            title=data["title"],
            purpose=data["purpose"],
            audience=form.audience(),
            texts=texts,
            delivery=data["delivery"],
            template_id=template.pk if template else None,
            urgent=data["urgent"],
            personalised=personalised,
        )
        try:
            if request.POST.get("action") == "send":
                campaign = services.create_campaign(request.user, payload)
                flash.success(request, _("Your message is on its way: follow it here."))
                return redirect("messaging:campaign", pk=campaign.pk)
            preview = services.preview_campaign(request.user, payload)
            if preview.first is not None:
                example = services.render_example(preview.first, payload.texts, payload.purpose)
                if example.get("sms"):
                    analysis = sms.analyse(example["sms"])
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        except ServiceError as exc:
            form.add_error(None, exc.message)
    return render(
        request,
        "messaging/compose.html",
        {
            "form": form,
            "preview": preview,
            "analysis": analysis,
            "example": example,
            "templates": templates,
            "chosen": chosen,
            "target": target or "",
            "variables": list(rendering.VARIABLES.items()),
            "price": settings.SMS_PRICE_PER_SEGMENT,
        },
    )


def _texts_changed(template, data) -> bool:
    texts = services.template_texts(template)
    return (
        texts.sms_body,
        texts.email_subject,
        texts.email_text or strip_tags(texts.email_html),
    ) != (
        data["sms_body"],
        data["email_subject"],
        data["email_text"],
    )


def _date(value: str | None, end: bool = False):
    try:
        day = datetime.strptime(value or "", "%Y-%m-%d").date()
    except ValueError:
        return None
    return timezone.make_aware(datetime.combine(day, time.max if end else time.min))


def filtered_messages(user, params):
    """The supervision filters, shared by the page and the API."""
    queryset = scoped(user, Message).select_related("campaign", "person")
    campaign = params.get("campagne")
    if campaign and str(campaign).isdigit():
        queryset = queryset.filter(campaign_id=int(campaign))
    if params.get("canal") in Channel.values:
        queryset = queryset.filter(channel=params["canal"])
    if params.get("statut") in Message.Status.values:
        queryset = queryset.filter(status=params["statut"])
    if params.get("a_verifier"):
        queryset = queryset.filter(needs_review=True)
    residence = params.get("residence")
    if residence and str(residence).isdigit():
        queryset = queryset.filter(residence_id=int(residence))
    author = params.get("auteur")
    if author and str(author).isdigit():
        queryset = queryset.filter(campaign__author_id=int(author))
    since, until = _date(params.get("du")), _date(params.get("au"), end=True)
    if since:
        queryset = queryset.filter(created_at__gte=since)
    if until:
        queryset = queryset.filter(created_at__lte=until)
    return queryset


@login_required
@require_GET
def supervision(request):
    services.check_sender(request.user)
    messages = filtered_messages(request.user, request.GET)
    campaign_ids = messages.values("campaign_id")
    campaigns = (
        scoped(request.user, Campaign)
        .filter(pk__in=campaign_ids)
        .select_related("author", "residence")
    )
    page = Paginator(campaigns.order_by("-created_at"), 20).get_page(request.GET.get("page"))
    per_campaign = stats.by_campaign([c.pk for c in page])
    rows = [(c, per_campaign.get(c.pk, stats.Counts())) for c in page]
    return render(
        request,
        "messaging/supervision.html",
        {
            "page": page,
            "rows": rows,
            "channels": stats.by_channel(messages),
            "statuses": Message.Status.choices,
            "channel_choices": Channel.choices,
            "residences": scoped(request.user, Residence).order_by("name"),
            "authors": User.objects.filter(
                pk__in=scoped(request.user, Campaign).exclude(author=None).values("author_id")
            ).order_by("last_name", "first_name"),
            "failures": messages.filter(
                status__in=[Message.Status.FAILED, Message.Status.UNDELIVERED]
            ).order_by("-created_at")[:20],
            "review": messages.filter(needs_review=True).count(),
            "filters": request.GET,
        },
    )


@login_required
@require_GET
def campaign_detail(request, pk: int):
    services.check_sender(request.user)
    campaign = get_scoped_or_404(
        request.user, Campaign.objects.select_related("author", "residence"), pk=pk
    )
    messages = filtered_messages(request.user, {**request.GET.dict(), "campagne": str(pk)})
    page = Paginator(messages.order_by("status", "pk"), 50).get_page(request.GET.get("page"))
    counts = stats.by_campaign([campaign.pk]).get(campaign.pk, stats.Counts())
    moving = [Message.Status.QUEUED, Message.Status.SENDING, Message.Status.SENT]
    return render(
        request,
        "messaging/campaign.html",
        {
            "campaign": campaign,
            "page": page,
            "counts": counts,
            "status_counts": [
                (label, counts.get(value))
                for value, label in Message.Status.choices
                if counts.get(value)
            ],
            "filters": request.GET,
            "review_count": campaign.messages.filter(needs_review=True).count(),
            "refresh": campaign.status == Campaign.Status.PREPARING
            or campaign.messages.filter(status__in=moving, needs_review=False).exists(),
        },
    )


@login_required
@require_POST
def resend_failed(request, pk: int):
    campaign = get_scoped_or_404(request.user, Campaign, pk=pk)
    count = services.resend_failed(request.user, campaign)
    if count:
        flash.success(
            request, _("%(count)d message(s) sent again on the other channel.") % {"count": count}
        )
    else:
        flash.info(request, _("No failed message can go on the other channel."))
    return redirect("messaging:campaign", pk=pk)


@login_required
@require_POST
def decide(request, pk: int):
    message = get_scoped_or_404(request.user, Message, pk=pk)
    try:
        services.resolve_review(request.user, message, request.POST.get("decision", ""))
    except (ServiceError, ValidationError) as exc:
        flash.error(request, getattr(exc, "message", None) or " ".join(exc.messages))
    else:
        flash.success(request, _("Decision recorded."))
    return redirect("messaging:campaign", pk=message.campaign_id)


@login_required
@require_GET
def inbound_list(request):
    services.check_sender(request.user)
    inbound = scoped(request.user, InboundMessage).select_related("person", "residence")
    if request.GET.get("tous") != "1":
        inbound = inbound.filter(handled_at__isnull=True)
    page = Paginator(inbound, 30).get_page(request.GET.get("page"))
    return render(
        request,
        "messaging/inbound.html",
        {"page": page, "show_all": request.GET.get("tous") == "1"},
    )


@login_required
@require_POST
def inbound_handled(request, pk: int):
    inbound = get_scoped_or_404(request.user, InboundMessage, pk=pk)
    services.mark_inbound_handled(request.user, inbound)
    flash.success(request, _("Marked as handled."))
    return redirect("messaging:inbound")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """The link at the bottom of non-operational e-mails: one click shows, one POST confirms
    (a GET alone changes nothing, so that mail scanners cannot unsubscribe people). Mail
    clients' one-click unsubscribe (RFC 8058) POSTs "List-Unsubscribe=One-Click" from outside:
    the signed token is the authorisation, hence no CSRF check."""
    try:
        _person_id, purpose = services.read_unsubscribe_token(token)
    except ServiceError:
        return render(request, "messaging/unsubscribe.html", {"invalid": True}, status=400)
    done = False
    if request.method == "POST":
        services.unsubscribe(token)
        done = True
    return render(
        request,
        "messaging/unsubscribe.html",
        {
            "purpose": Purpose(purpose).label,
            "done": done,
        },
    )
