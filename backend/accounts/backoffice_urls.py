from django.urls import path

from backend.accounts import backoffice_views as views

app_name = "extranet"

urlpatterns = [
    path("", views.households, name="households"),
    path("foyers/<int:pk>/", views.household, name="household"),
    path("foyers/<int:pk>/lettre/", views.household_letter, name="household-letter"),
    path("relances/", views.reminders, name="reminders"),
    path("adoption/", views.adoption, name="adoption"),
    path("adoption.csv", views.adoption_csv, name="adoption-csv"),
    path("lettres/", views.letters, name="letters"),
    path("consentements.csv", views.consents_csv, name="consents-csv"),
    path("aide/", views.help_requests, name="help"),
    path("aide/<int:pk>/traitee/", views.help_handled, name="help-handled"),
]
