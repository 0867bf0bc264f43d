from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from backend.accounts.views import StaffLoginView, StaffLogoutView
from backend.api import api
from backend.core import files
from backend.core import views as core_views
from backend.estate import views as estate_views
from backend.sync import views as sync_views
from pwa import views as pwa_views

admin.site.site_header = _("Ronde administration")
admin.site.site_title = _("Ronde")
admin.site.index_title = _("Administration")

urlpatterns = [
    path("", core_views.home, name="home"),
    path("connexion/", StaffLoginView.as_view(), name="login"),
    path("deconnexion/", StaffLogoutView.as_view(), name="logout"),
    path("accessibilite/", core_views.accessibility, name="accessibility"),
    path("messages-captures/", core_views.captured_messages, name="captured-messages"),
    path("patrimoine/", estate_views.residence_list, name="residence-list"),
    path("patrimoine/<int:pk>/", estate_views.residence_detail, name="residence-detail"),
    path("recherche/", estate_views.search, name="search"),
    path(
        "fichiers/<slug:app_label>/<slug:model_name>/<slug:field>/<str:pk>/",
        files.serve,
        name="protected-file",
    ),
    path("favicon.ico", core_views.favicon),
    path("terrain/", sync_views.shell, name="terrain"),
    path("terrain/sw.js", sync_views.service_worker, name="terrain-sw"),
    path("manifest.json", pwa_views.manifest, name="manifest"),
    path("", include("messaging.urls")),
    path("", include("inspections.urls")),
    path("", include("tickets.urls")),
    path("locataire/", include("backend.accounts.tenant_urls")),
    path("extranet/", include("backend.accounts.backoffice_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]

handler404 = "backend.core.views.not_found"
handler500 = "backend.core.views.server_error"
handler403 = "backend.core.views.permission_denied"
