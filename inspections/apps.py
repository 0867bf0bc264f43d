from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InspectionsConfig(AppConfig):
    name = "inspections"
    verbose_name = _("Inspections")

    def ready(self):
        from backend.accounts.models import Role
        from backend.accounts.scoping import STAFF_ROLES
        from backend.core import files, navigation
        from inspections import sync
        from inspections.models import Photo, Visit

        sync.register()
        files.register(Photo, "image")
        files.register(Photo, "thumbnail")
        files.register(Visit, "signature")
        files.register(Visit, "report")
        navigation.add(_("Inspections"), "inspections:dashboard", roles=STAFF_ROLES, order=30)
        navigation.add(_("Rework"), "inspections:provider-home", roles={Role.CONTRACTOR}, order=30)
