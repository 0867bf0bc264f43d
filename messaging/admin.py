from django.contrib import admin

from messaging.models import CapturedMessage


@admin.register(CapturedMessage)
class CapturedMessageAdmin(admin.ModelAdmin):
    list_display = ["channel", "subject", "created_at"]
    list_filter = ["channel"]
    readonly_fields = ["channel", "sender", "recipients", "subject", "body", "html", "created_at"]
