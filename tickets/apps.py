from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = _("Technical requests")

    def ready(self):
        from backend.accounts.models import Role
        from backend.accounts.scoping import STAFF_ROLES
        from backend.core import files, navigation
        from messaging.signals import inbound_received
        from tickets import inbound, sync
        from tickets.models import Photo, WorkOrder

        sync.register()
        files.register(Photo, "image")
        files.register(Photo, "thumbnail")
        files.register(WorkOrder, "signature")
        inbound_received.connect(inbound.on_inbound, dispatch_uid="tickets.inbound")
        navigation.add(_("Requests"), "tickets:list", roles=STAFF_ROLES, order=20)
        navigation.add(_("Work orders"), "tickets:orders", roles={Role.CONTRACTOR}, order=20)
