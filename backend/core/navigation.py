"""The staff navigation: each app adds its entries once, with the roles that see them."""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.functional import Promise

from backend.accounts.models import Role

ALL_STAFF = frozenset(Role.values) - {Role.TENANT}


@dataclass(frozen=True)
class NavItem:
    label: str | Promise
    url_name: str
    roles: frozenset
    order: int = 100
    condition: str | None = None  # a settings flag that must be true


_ITEMS: list[NavItem] = []


def add(label, url_name, roles=ALL_STAFF, order=100, condition=None):
    _ITEMS.append(NavItem(label, url_name, frozenset(roles), order, condition))


def items_for(user, current_path: str = "") -> list[dict]:
    from django.conf import settings

    if not (user and user.is_authenticated):
        return []
    entries = []
    for item in sorted(_ITEMS, key=lambda i: i.order):
        if item.condition and not getattr(settings, item.condition, False):
            continue
        if not (user.is_superuser or user.role in item.roles):
            continue
        url = reverse(item.url_name)
        current = current_path == url if url == "/" else current_path.startswith(url)
        entries.append({"label": item.label, "url": url, "current": current})
    return entries
