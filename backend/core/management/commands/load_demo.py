from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from backend.core import demo


class Command(BaseCommand):
    help = _("Load the demo data (once: a second run changes nothing).")

    def handle(self, *args, **options):
        if demo.load():
            self.stdout.write(self.style.SUCCESS(_("Demo data loaded.")))
        else:
            self.stdout.write(_("Demo data already present: nothing changed."))
