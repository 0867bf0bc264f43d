from django.utils import timezone
from django.utils.translation import gettext as _


class OrganisationTimezoneMiddleware:
    """Dates are shown, and "today" is computed, in the time zone of the user's organisation
    (La Réunion is UTC+4, the Antilles UTC−4), not the server's."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and getattr(user, "organisation_id", None):
            timezone.activate(user.organisation.zone)
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class ApiMethodNotAllowedMiddleware:
    """django-ninja answers a wrong method with plain text: the API answers JSON, in French."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 405 and request.path.startswith("/api/"):
            from backend.api import error_response

            allowed = response.get("Allow", "")
            json = error_response(
                request,
                405,
                "method_not_allowed",
                _("This method is not allowed here."),
                [{"field": "", "message": allowed, "type": "allow"}],
            )
            if allowed:
                json["Allow"] = allowed
            return json
        return response
