"""The agents' app shell (pwa/): its page, its service worker, its manifest (docs/sync.md).

The page and the worker are the same for everyone (the app logs in and loads its data through
the sync API), so both can be cached and opened offline. The worker's version is a hash of the
app's files: any change to them makes a new worker, which the page announces."""

import hashlib
import json
from functools import lru_cache

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import HttpResponse
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.views.decorators.cache import never_cache

ASSETS = [
    "terrain/app.js",
    "terrain/db.js",
    "terrain/sync.js",
    "terrain/photos.js",
    "terrain/app.css",
    "terrain/icons/icon-192.png",
    "terrain/icons/icon-512.png",
    "terrain/icons/maskable-512.png",
]


def _version() -> str:
    digest = hashlib.sha256()
    for name in ASSETS:
        path = finders.find(name)
        with open(path, "rb") as handle:
            digest.update(handle.read())
    for template in ("terrain/index.html", "terrain/sw.js"):
        with open(get_template(template).origin.name, "rb") as handle:
            digest.update(handle.read())
    return digest.hexdigest()[:16]


_cached_version = lru_cache(maxsize=1)(_version)


def version() -> str:
    return _version() if settings.DEBUG else _cached_version()


@never_cache
def shell(request):
    return HttpResponse(render_to_string("terrain/index.html", request=request))


@never_cache
def service_worker(request):
    body = render_to_string(
        "terrain/sw.js",
        {
            "version": version(),
            "module": request.GET.get("classic") != "1",
            "start_url": reverse("terrain"),
            "assets": json.dumps(
                [staticfiles_storage.url(name) for name in ASSETS] + ["/manifest.json"]
            ),
        },
    )
    return HttpResponse(body, content_type="application/javascript; charset=utf-8")
