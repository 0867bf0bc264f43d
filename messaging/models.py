"""Messaging: templates, campaigns (every send, from one SMS to 100,000), the outbox, delivery
events, consent, inbound SMS. Rules: docs/messaging.md."""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from messaging import rendering


class Purpose(models.TextChoices):
    OPERATIONAL = "operational", _("Operational (about their request or home)")
    INFORMATION = "information", _("General information")
    COMMERCIAL = "commercial", _("Commercial")


class Channel(models.TextChoices):
    SMS = "sms", _("Text message")
    EMAIL = "email", _("E-mail")


class Channels(models.TextChoices):
    SMS = "sms", _("Text message only")
    EMAIL = "email", _("E-mail only")
    BOTH = "both", _("Text message and e-mail")


class Template(models.Model):
    """A reusable message, at the level of an organisation, an agency or a residence; the most
    specific one with the same key wins for a recipient."""

    organisation = models.ForeignKey(
        "estate.Organisation",
        on_delete=models.CASCADE,
        related_name="message_templates",
        verbose_name=_("organisation"),
    )
    agency = models.ForeignKey(
        "estate.Agency",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="message_templates",
        verbose_name=_("agency"),
    )
    residence = models.ForeignKey(
        "estate.Residence",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="message_templates",
        verbose_name=_("residence"),
    )
    key = models.SlugField(
        _("key"), max_length=80, help_text=_("Same key at several levels: the most specific wins.")
    )
    name = models.CharField(_("name"), max_length=200)
    purpose = models.CharField(
        _("purpose"), max_length=20, choices=Purpose.choices, default=Purpose.OPERATIONAL
    )
    channels = models.CharField(
        _("channels"), max_length=10, choices=Channels.choices, default=Channels.BOTH
    )
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    STAFF_ONLY = True

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "key"],
                condition=Q(agency__isnull=True, residence__isnull=True),
                name="template_key_organisation",
            ),
            models.UniqueConstraint(
                fields=["agency", "key"],
                condition=Q(residence__isnull=True),
                name="template_key_agency",
            ),
            models.UniqueConstraint(fields=["residence", "key"], name="template_key_residence"),
        ]

    def __str__(self):
        return self.name

    @classmethod
    def scope_queryset(cls, user, queryset, residences):
        """Organisation-wide templates for its staff, agency ones for that agency's residences,
        residence ones within scope."""
        return queryset.filter(
            Q(residence__in=residences)
            | Q(residence__isnull=True, agency__residences__in=residences)
            | Q(residence__isnull=True, agency__isnull=True, organisation_id=user.organisation_id)
        ).distinct()

    def clean(self):
        if self.residence_id and self.agency_id and self.residence.agency_id != self.agency_id:
            raise ValidationError({"agency": _("The residence is not in this agency.")})
        if self.agency_id and self.agency.organisation_id != self.organisation_id:
            raise ValidationError({"agency": _("The agency is not in this organisation.")})

    def variant(self, language: str) -> "TemplateVariant | None":
        variants = {v.language: v for v in self.variants.all()}
        return variants.get(language) or variants.get("fr") or next(iter(variants.values()), None)

    @property
    def wants_sms(self) -> bool:
        return self.channels in (Channels.SMS, Channels.BOTH)

    @property
    def wants_email(self) -> bool:
        return self.channels in (Channels.EMAIL, Channels.BOTH)


class TemplateVariant(models.Model):
    """The texts of a template in one language (French is the default and the fallback)."""

    template = models.ForeignKey(
        Template, on_delete=models.CASCADE, related_name="variants", verbose_name=_("template")
    )
    language = models.CharField(_("language"), max_length=5, default="fr")
    sms_body = models.TextField(_("text message"), blank=True)
    email_subject = models.CharField(_("e-mail subject"), max_length=200, blank=True)
    email_text = models.TextField(_("e-mail (plain text)"), blank=True)
    email_html = models.TextField(_("e-mail (HTML)"), blank=True)

    class Meta:
        verbose_name = _("template text")
        verbose_name_plural = _("template texts")
        constraints = [
            models.UniqueConstraint(
                fields=["template", "language"], name="template_language_unique"
            )
        ]

    def __str__(self):
        return f"{self.template} ({self.language})"

    def clean(self):
        errors = rendering.text_errors(self)
        template = self.template
        if template.wants_sms and not self.sms_body.strip():
            errors.setdefault("sms_body", [_("This template sends text messages: write the text.")])
        if template.wants_email and not self.email_subject.strip():
            errors.setdefault(
                "email_subject", [_("This template sends e-mails: write the subject.")]
            )
        if template.wants_email and not (self.email_text.strip() or self.email_html.strip()):
            errors.setdefault("email_text", [_("This template sends e-mails: write the text.")])
        if errors:
            raise ValidationError(errors)


class Group(models.Model):
    """A saved group of recipients (the tenants' association board, the elevator committee...)."""

    organisation = models.ForeignKey(
        "estate.Organisation", on_delete=models.CASCADE, verbose_name=_("organisation")
    )
    name = models.CharField(_("name"), max_length=200)
    people = models.ManyToManyField(
        "estate.Person", related_name="message_groups", verbose_name=_("people")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, editable=False
    )

    STAFF_ONLY = True

    class Meta:
        verbose_name = _("recipient group")
        verbose_name_plural = _("recipient groups")
        ordering = ["name"]

    def __str__(self):
        return self.name

    @classmethod
    def scope_queryset(cls, user, queryset, residences):
        return queryset.filter(organisation_id=user.organisation_id)


class Campaign(models.Model):
    """One send: a campaign to an entrance as well as one SMS about a request."""

    class Status(models.TextChoices):
        PREPARING = "preparing", _("Preparing")
        READY = "ready", _("Sending")
        CANCELLED = "cancelled", _("Cancelled")
        FAILED = "failed", _("Could not be prepared")

    class Delivery(models.TextChoices):
        PREFERRED = "preferred", _("Preferred channel of each person (the other one if missing)")
        BOTH = "both", _("Both channels")

    organisation = models.ForeignKey(
        "estate.Organisation", on_delete=models.CASCADE, verbose_name=_("organisation")
    )
    residence = models.ForeignKey(
        "estate.Residence",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="campaigns",
        verbose_name=_("residence"),
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="campaigns",
        verbose_name=_("author"),
    )
    template = models.ForeignKey(
        Template, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("template")
    )
    title = models.CharField(_("title"), max_length=200)
    purpose = models.CharField(_("purpose"), max_length=20, choices=Purpose.choices)
    delivery = models.CharField(
        _("delivery"), max_length=10, choices=Delivery.choices, default=Delivery.PREFERRED
    )
    sms_body = models.TextField(_("text message"), blank=True)
    email_subject = models.CharField(_("e-mail subject"), max_length=200, blank=True)
    email_text = models.TextField(_("e-mail (plain text)"), blank=True)
    email_html = models.TextField(_("e-mail (HTML)"), blank=True)
    audience = models.JSONField(_("audience"), default=dict)
    urgent = models.BooleanField(
        _("send at once"),
        default=False,
        help_text=_(
            "Answers to a tenant, appointment changes and safety notices ignore quiet hours."
        ),
    )
    expects_reply = models.BooleanField(_("expects a reply"), default=False)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PREPARING
    )
    prepared_up_to = models.BigIntegerField(default=0, editable=False)  # fan-out resume point
    failure = models.CharField(_("reason of the failure"), max_length=300, blank=True)
    content_type = models.ForeignKey(ContentType, on_delete=models.SET_NULL, null=True, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    about = GenericForeignKey("content_type", "object_id")
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)

    STAFF_ONLY = True

    class Meta:
        verbose_name = _("send")
        verbose_name_plural = _("sends")
        ordering = ["-created_at"]

    def __str__(self):
        return self.title

    @classmethod
    def scope_queryset(cls, user, queryset, residences):
        """A send is seen by the staff of its residence; a send to a group or a list (no single
        residence) by the staff of any of its recipients' residences, by its author and by the
        organisation's administrators."""
        condition = (
            Q(residence__in=residences)
            | Q(residence__isnull=True, messages__residence__in=residences)
            | Q(residence__isnull=True, author=user)
        )
        if user.role == "admin":
            condition |= Q(organisation_id=user.organisation_id)
        return queryset.filter(pk__in=cls._base_manager.filter(condition).values("pk"))


class Message(models.Model):
    """One message to one recipient on one channel: a row before it is a request."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        UNDELIVERED = "undelivered", _("Undelivered")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="messages", verbose_name=_("send")
    )
    person = models.ForeignKey(
        "estate.Person",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
        verbose_name=_("recipient"),
    )
    residence = models.ForeignKey(
        "estate.Residence",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
        verbose_name=_("residence"),
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    to = models.CharField(_("to"), max_length=254)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    body = models.TextField(_("text"))
    html = models.TextField(_("HTML"), blank=True)
    segments = models.PositiveSmallIntegerField(_("segments"), default=0)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.QUEUED
    )
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    provider_id = models.CharField(_("provider id"), max_length=100, blank=True, db_index=True)
    error_code = models.CharField(_("error code"), max_length=20, blank=True)
    error_message = models.CharField(_("error"), max_length=500, blank=True)
    needs_review = models.BooleanField(_("to check"), default=False, db_index=True)
    claim = models.UUIDField(null=True, blank=True, editable=False, db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sending_at = models.DateTimeField(_("sending since"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    SCOPE = "residence"
    STAFF_ONLY = True

    # Status only moves forward: a late or out-of-order callback never moves it back.
    RANK = {
        Status.QUEUED: 0,
        Status.SENDING: 1,
        Status.SENT: 2,
        Status.DELIVERED: 3,
        Status.UNDELIVERED: 3,
        Status.FAILED: 3,
        Status.CANCELLED: 3,
    }
    FINAL = {Status.DELIVERED, Status.UNDELIVERED, Status.FAILED, Status.CANCELLED}

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="message_due")]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "person", "channel"], name="message_once_per_channel"
            )
        ]

    def __str__(self):
        return f"{self.get_channel_display()} → {self.to} ({self.get_status_display()})"

    @property
    def error_reason(self) -> str:
        """The failure in words a French-speaking advisor reads (the provider's own text stays
        in error_message, for the record)."""
        from messaging.errors import reason

        return reason(self.error_code, self.channel) if self.error_code else ""


class MessageEvent(models.Model):
    """Every change of a message's status, with where it came from: the timeline."""

    class Source(models.TextChoices):
        OUTBOX = "outbox", _("Outbox")
        PROVIDER = "provider", _("Provider's report")
        RECONCILIATION = "reconciliation", _("Check at the provider")
        STAFF = "staff", _("Staff")

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(_("status"), max_length=20)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("message event")
        verbose_name_plural = _("message events")
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.status} ({self.get_source_display()})"


class OptOut(models.Model):
    """A person does not want a purpose of message on a channel. Operational messages are never
    blocked by an opt-out."""

    class Source(models.TextChoices):
        SMS_KEYWORD = "sms_keyword", _("STOP by text message")
        EMAIL_LINK = "email_link", _("Unsubscribe link")
        STAFF = "staff", _("Staff, at the tenant's request")
        EXTRANET = "extranet", _("Tenant extranet")

    person = models.ForeignKey("estate.Person", on_delete=models.CASCADE, related_name="opt_outs")
    purpose = models.CharField(_("purpose"), max_length=20, choices=Purpose.choices)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    created_at = models.DateTimeField(_("date"), auto_now_add=True)

    class Meta:
        verbose_name = _("opt-out")
        verbose_name_plural = _("opt-outs")
        constraints = [
            models.UniqueConstraint(fields=["person", "purpose", "channel"], name="opt_out_once"),
            models.CheckConstraint(
                condition=~Q(purpose="operational"), name="opt_out_not_operational"
            ),
        ]

    def __str__(self):
        return f"{self.person} — {self.get_purpose_display()} ({self.get_channel_display()})"


class ChannelBlock(models.Model):
    """An address the provider refused for good (invalid number, unsubscribed at the carrier,
    bounced e-mail). It blocks that address only: a corrected number is used again."""

    person = models.ForeignKey(
        "estate.Person", on_delete=models.CASCADE, related_name="channel_blocks"
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    address = models.CharField(_("address"), max_length=254)
    code = models.CharField(_("error code"), max_length=20)
    reason = models.CharField(_("reason"), max_length=300)
    created_at = models.DateTimeField(_("date"), auto_now_add=True)

    class Meta:
        verbose_name = _("blocked address")
        verbose_name_plural = _("blocked addresses")
        constraints = [
            models.UniqueConstraint(
                fields=["person", "channel", "address"], name="channel_block_once"
            )
        ]

    def __str__(self):
        return f"{self.address} ({self.code})"


class InboundMessage(models.Model):
    """A text message received from a tenant (or anyone)."""

    class Kind(models.TextChoices):
        OPT_OUT = "opt_out", _("Opt-out (STOP)")
        FROM_TENANT = "from_tenant", _("From a known tenant")
        UNKNOWN = "unknown", _("Unknown number")

    provider_id = models.CharField(_("provider id"), max_length=100, unique=True)
    from_number = models.CharField(_("from"), max_length=32)
    to_number = models.CharField(_("to"), max_length=32, blank=True)
    body = models.TextField(_("text"), blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    person = models.ForeignKey(
        "estate.Person",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="inbound_messages",
        verbose_name=_("sender"),
    )
    residence = models.ForeignKey(
        "estate.Residence", on_delete=models.SET_NULL, null=True, blank=True
    )
    organisation = models.ForeignKey(
        "estate.Organisation", on_delete=models.SET_NULL, null=True, blank=True
    )
    handled_at = models.DateTimeField(_("handled"), null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    content_type = models.ForeignKey(ContentType, on_delete=models.SET_NULL, null=True, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    attached_to = GenericForeignKey("content_type", "object_id")
    received_at = models.DateTimeField(_("received"), auto_now_add=True, db_index=True)

    STAFF_ONLY = True

    class Meta:
        verbose_name = _("inbound text message")
        verbose_name_plural = _("inbound text messages")
        ordering = ["-received_at"]

    def __str__(self):
        return f"{self.from_number}: {self.body[:40]}"

    @classmethod
    def scope_queryset(cls, user, queryset, residences):
        # Messages from unknown numbers belong to the whole organisation's advisors.
        return queryset.filter(
            Q(residence__in=residences)
            | Q(residence__isnull=True, organisation_id=user.organisation_id)
        )


class SenderRate(models.Model):
    """The next free sending slot of a sender, shared by every worker: the rate limit."""

    sender = models.CharField(max_length=100, unique=True)
    next_free_at = models.DateTimeField()

    def __str__(self):
        return f"{self.sender} @ {self.next_free_at}"


class CapturedMessage(models.Model):
    """Messages captured instead of sent (the embedded profile): nothing leaves the machine, and
    the in-app page shows what would have been sent, within the reader's scope."""

    class Channel(models.TextChoices):
        SMS = "sms", _("Text message")
        EMAIL = "email", _("E-mail")

    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    organisation = models.ForeignKey(
        "estate.Organisation",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        verbose_name=_("organisation"),
    )
    residence = models.ForeignKey(
        "estate.Residence",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("residence"),
    )
    sender = models.CharField(_("from"), max_length=300, blank=True)
    recipients = models.JSONField(_("to"), default=list)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    body = models.TextField(_("text"))
    html = models.TextField(_("HTML"), blank=True)
    created_at = models.DateTimeField(_("captured"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("captured message")
        verbose_name_plural = _("captured messages")
        ordering = ["-created_at", "-id"]

    STAFF_ONLY = True

    def __str__(self):
        return f"{self.get_channel_display()} → {', '.join(self.recipients)}"

    @classmethod
    def scope_queryset(cls, user, queryset, residences):
        # Messages about a residence go to its staff; the organisation's other messages to its
        # administrators; messages of no organisation (Django's own e-mails) to superusers.
        condition = Q(residence__in=residences)
        if user.role == "admin":
            condition |= Q(residence__isnull=True, organisation_id=user.organisation_id)
        return queryset.filter(condition)
