from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "backend.core"
    label = "core"
    verbose_name = _("Ronde core")

    def ready(self):
        from django.db.models.signals import post_migrate

        from backend import jobs

        jobs.autodiscover()
        post_migrate.connect(jobs.sync_schedules, sender=self)
        self.register_navigation()

    def register_navigation(self):
        from backend.accounts.models import Role
        from backend.core import navigation

        navigation.add(_("Dashboard"), "home", order=0)
        navigation.add(
            _("Captured messages"),
            "captured-messages",
            roles={Role.ADMIN, Role.MANAGER},
            order=900,
            condition="DEMO_MODE",
        )
        navigation.add(_("Administration"), "admin:index", roles={Role.ADMIN}, order=1000)
