from django.conf import settings

from backend.core import navigation


def ronde(request):
    user = getattr(request, "user", None)
    return {
        "navigation": navigation.items_for(user, request.path),
        "demo_mode": settings.DEMO_MODE,
    }
