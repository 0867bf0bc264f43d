"""Twilio webhooks, verified with X-Twilio-Signature (the SDK's RequestValidator) against the
URL as Twilio called it: behind a TLS proxy, BEHIND_TLS_PROXY makes Django see https, and
CSRF_TRUSTED_ORIGINS/ALLOWED_HOSTS the public host. A missing or wrong signature gets 403 and
changes nothing."""

import logging

from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from messaging import outbox, services
from messaging.transports import twilio_sms

logger = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def public_url(request) -> str:
    """The URL Twilio called: SITE_URL's scheme and host when set behind a proxy that does not
    pass them on, else what the request says (proxy headers applied by Django's settings)."""
    if settings.TWILIO_WEBHOOK_BASE_URL:
        return settings.TWILIO_WEBHOOK_BASE_URL.rstrip("/") + request.get_full_path()
    return request.build_absolute_uri()


def verified(request) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not settings.TWILIO_AUTH_TOKEN:
        return False
    validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)
    return validator.validate(public_url(request), request.POST.dict(), signature)


@csrf_exempt
@require_POST
def status(request):
    if not verified(request):
        logger.warning(
            "Twilio status callback with a bad signature from %s", request.META.get("REMOTE_ADDR")
        )
        return HttpResponseForbidden("invalid signature")
    message = outbox.apply_provider_report(
        request.GET.get("m"),
        request.POST.get("MessageSid", ""),
        request.POST.get("MessageStatus", ""),
        request.POST.get("ErrorCode", ""),
        statuses=twilio_sms.STATUSES,
        blocking_codes=twilio_sms.BLOCKING_CODES,
    )
    if message is None:
        return JsonResponse(
            {"code": "unknown_message", "message": "No such message: nothing changed."}, status=404
        )
    return JsonResponse({"code": "ok", "status": message.status})


@csrf_exempt
@require_POST
def inbound(request):
    if not verified(request):
        logger.warning(
            "Twilio inbound SMS with a bad signature from %s", request.META.get("REMOTE_ADDR")
        )
        return HttpResponseForbidden("invalid signature")
    sid = request.POST.get("MessageSid") or request.POST.get("SmsSid", "")
    sender = request.POST.get("From", "")
    if not sid or not sender:
        return JsonResponse(
            {"code": "invalid_input", "message": "MessageSid and From are required."}, status=400
        )
    services.handle_inbound(sid, sender, request.POST.get("To", ""), request.POST.get("Body", ""))
    # Replies (the STOP confirmation) go through the outbox, recorded like every message.
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")
