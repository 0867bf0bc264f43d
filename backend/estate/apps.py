from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EstateConfig(AppConfig):
    name = "backend.estate"
    label = "estate"
    verbose_name = _("Estate")

    def ready(self):
        from backend.accounts.models import Role
        from backend.core import files, navigation
        from backend.estate.models import EstateDocument

        files.register(EstateDocument, "file")
        navigation.add(
            _("Search"),
            "search",
            roles={Role.AGENT, Role.ADVISOR, Role.MANAGER, Role.ADMIN},
            order=10,
        )
        navigation.add(_("Estate"), "residence-list", order=20)
