"""API authentication, in one module, applied globally by backend/api.py.

- Integrations send `Authorization: Bearer <key>` (ApiToken, created and revoked by an admin).
- The PWA and pages use the Django session, with CSRF checked on writes.
A public endpoint opts out visibly with `auth=None`.
"""

from django.utils import timezone
from ninja.security import HttpBearer, SessionAuth

from backend.accounts.models import ApiToken, Role


def is_staff_user(user) -> bool:
    """Staff and contractors (not tenants, whose extranet has its own authentication)."""
    return bool(
        user
        and user.is_authenticated
        and user.is_active
        and (user.is_superuser or (user.role and user.role != Role.TENANT))
    )


def is_tenant_user(user) -> bool:
    return bool(
        user and user.is_authenticated and user.is_active and getattr(user, "role", "") == "tenant"
    )


class TenantSessionAuth(SessionAuth):
    """The tenant extranet's API: the tenant's own session (CSRF checked on writes)."""

    def authenticate(self, request, key):
        return request.user if is_tenant_user(request.user) else None


class BearerTokenAuth(HttpBearer):
    def authenticate(self, request, token):
        api_token = ApiToken.authenticate(token)
        if api_token is None or not is_staff_user(api_token.user):
            return None
        now = timezone.now()
        # One write a minute at most: a busy integration must not take the write lock per call.
        if api_token.last_used_at is None or (now - api_token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
        request.user = api_token.user
        if api_token.user.organisation_id:
            timezone.activate(api_token.user.organisation.zone)
        return api_token.user


class StaffSessionAuth(SessionAuth):
    def authenticate(self, request, key):
        return request.user if is_staff_user(request.user) else None


API_AUTH = [BearerTokenAuth(), StaffSessionAuth(csrf=True)]
