from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SyncConfig(AppConfig):
    name = "backend.sync"
    label = "sync"
    verbose_name = _("Offline sync")

    def ready(self):
        from backend.sync import records

        records.register_core_types()
