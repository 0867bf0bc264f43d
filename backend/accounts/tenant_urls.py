from django.urls import path

from backend.accounts import tenant_extras, tenant_space, tenant_views

app_name = "tenants"

urlpatterns = [
    path("", tenant_views.welcome, name="welcome"),
    path("codes/", tenant_views.codes, name="codes"),
    path("activer/", tenant_views.activate, name="activate"),
    path("activer/lettre/", tenant_views.activate_provisional, name="provisional"),
    path("activer/lettre/securiser/", tenant_views.secure, name="secure"),
    path("activer/envoye/", tenant_views.sent, name="sent"),
    path("verifier/<str:token>/", tenant_views.verify, name="verify"),
    path("connexion/", tenant_views.login_view, name="login"),
    path("deconnexion/", tenant_views.logout_view, name="logout"),
    path("mot-de-passe-oublie/", tenant_views.forgot_password, name="forgot-password"),
    path("identifiant-oublie/", tenant_views.forgot_identifier, name="forgot-identifier"),
    path("reinitialiser/<str:token>/", tenant_views.reset, name="reset"),
    path("mot-de-passe/verifier/", tenant_views.password_check, name="password-check"),
    path("espace/", tenant_space.space, name="space"),
    path("espace/logement/", tenant_space.switch, name="switch"),
    path("espace/profil/", tenant_space.profile, name="profile"),
    path("espace/consentements/", tenant_space.consents, name="consents"),
    path("espace/fusion/", tenant_space.merge, name="merge"),
    path("espace/documents/<int:pk>/", tenant_extras.document, name="document"),
    path("espace/assurance/", tenant_extras.insurance, name="insurance"),
    path("espace/demandes/nouvelle/", tenant_extras.new_request, name="new-request"),
    path("espace/demandes/<uuid:pk>/", tenant_extras.request_detail, name="request"),
    path("espace/mes-donnees/", tenant_extras.my_data, name="my-data"),
    path("aide/", tenant_extras.help_view, name="help"),
    path("conditions/", tenant_extras.terms, name="terms"),
    path("confidentialite/", tenant_extras.privacy, name="privacy"),
]
