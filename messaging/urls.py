from django.urls import path

from messaging import views, webhooks

app_name = "messaging"

urlpatterns = [
    path("messages/", views.supervision, name="supervision"),
    path("messages/nouveau/", views.compose, name="compose"),
    path("messages/envois/<int:pk>/", views.campaign_detail, name="campaign"),
    path("messages/envois/<int:pk>/renvoyer/", views.resend_failed, name="resend-failed"),
    path("messages/<int:pk>/decision/", views.decide, name="decide"),
    path("messages/recus/", views.inbound_list, name="inbound"),
    path("messages/recus/<int:pk>/traite/", views.inbound_handled, name="inbound-handled"),
    path("desinscription/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("hooks/twilio/status", webhooks.status, name="twilio-status"),
    path("hooks/twilio/inbound", webhooks.inbound, name="twilio-inbound"),
]
