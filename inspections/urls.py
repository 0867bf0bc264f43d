from django.urls import path

from inspections import views

app_name = "inspections"

urlpatterns = [
    path("controles/", views.dashboard, name="dashboard"),
    path("controles/taux.csv", views.rates_csv, name="rates-csv"),
    path("controles/visites/", views.visit_list, name="visits"),
    path("controles/visites/<uuid:pk>/", views.visit_detail, name="visit"),
    path("controles/visites/<uuid:pk>/reaffecter/", views.visit_reassign, name="visit-reassign"),
    path("controles/visites/<uuid:pk>/informer/", views.visit_inform, name="visit-inform"),
    path("controles/reprises/", views.rework_list, name="reworks"),
    path("controles/reprises/<uuid:pk>/", views.rework_detail, name="rework"),
    path("controles/penalites/", views.penalty_list, name="penalties"),
    path("controles/penalites/export/", views.penalty_export, name="penalty-export"),
    path("controles/grilles/", views.grid_list, name="grids"),
    path("controles/grilles/<int:pk>/", views.grid_edit, name="grid"),
    path("prestataire/", views.provider_home, name="provider-home"),
    path("prestataire/reprises/<uuid:pk>/", views.provider_rework, name="provider-rework"),
    path("prestataire/penalites/<int:pk>/", views.provider_penalty, name="provider-penalty"),
    path("prestataire/lien/<str:token>/", views.rework_link, name="rework-link"),
]
