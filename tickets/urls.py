from django.urls import path

from tickets import views

app_name = "tickets"

urlpatterns = [
    path("demandes/", views.request_list, name="list"),
    path("demandes/nouvelle/", views.intake, name="new"),
    path("demandes/<uuid:pk>/", views.request_detail, name="detail"),
    path("demandes/incidents/<uuid:pk>/", views.incident_detail, name="incident"),
    path("demandes/regie/", views.workload, name="workload"),
    path("demandes/qr/<int:residence_id>/", views.qr_sheet, name="qr-sheet"),
    path("interventions/", views.order_list, name="orders"),
    path("interventions/<uuid:pk>/", views.order_detail, name="order"),
    path("interventions/creneaux/", views.slots, name="slots"),
    path("suivi/<str:token>/", views.track, name="track"),
    path("signaler/<str:token>/", views.place, name="place"),
]
