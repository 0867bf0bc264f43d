from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = _("Messaging")

    def ready(self):
        from django.conf import settings

        from backend.accounts.scoping import STAFF_ROLES
        from backend.core import navigation
        from messaging import sync

        sync.register()

        if settings.SMS_TRANSPORT == "twilio":
            from messaging.transports.twilio_sms import check_configuration

            check_configuration()  # at start-up, in every process: never send from a wrong sender
        navigation.add(_("Messages"), "messaging:supervision", roles=STAFF_ROLES, order=40)
