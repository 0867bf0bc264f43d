"""Django's model backend, loading the user's organisation with the user: every request reads
its time zone (backend/core/middleware.py), so it comes in the same query."""

from django.contrib.auth.backends import ModelBackend

from backend.accounts.models import User


class ModelBackendWithOrganisation(ModelBackend):
    def get_user(self, user_id):
        user = User._default_manager.select_related("organisation").filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
