from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "backend.accounts"
    label = "accounts"
    verbose_name = _("Accounts and access")

    def ready(self):
        from backend.accounts.backoffice import BACKOFFICE_ROLES
        from backend.core import navigation

        navigation.add(
            _("Tenant accounts"), "extranet:households", roles=BACKOFFICE_ROLES, order=50
        )
