"""Messages captured instead of sent (the embedded profile): nothing leaves the machine, and
the in-app page shows what would have been sent."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class CapturedMessage(models.Model):
    class Channel(models.TextChoices):
        SMS = "sms", _("Text message")
        EMAIL = "email", _("E-mail")

    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
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

    def __str__(self):
        return f"{self.get_channel_display()} → {', '.join(self.recipients)}"
