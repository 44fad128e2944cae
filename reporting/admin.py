"""Call records in the admin: read-only lists to look a call up (the figures are on /reports/)."""

from __future__ import annotations

from django.contrib import admin

from reporting.models import CallAttempt, Cdr, QueueCall


class ReadOnly:
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class AttemptInline(ReadOnly, admin.TabularInline):
    model = CallAttempt
    fields = ["agent_extension", "offered_at", "ring_ms", "result"]
    extra = 0


@admin.register(QueueCall)
class QueueCallAdmin(ReadOnly, admin.ModelAdmin):
    list_display = [
        "entered_at",
        "queue_name",
        "caller_number",
        "outcome",
        "wait_seconds",
        "agent_extension",
        "talk_seconds",
        "ring_no_answers",
    ]
    list_filter = ["outcome", "queue", "pbx", "source"]
    list_select_related = ["queue__pbx"]
    date_hierarchy = "entered_at"
    search_fields = ["call_id", "caller_number", "caller_name", "agent_extension"]
    show_full_result_count = False  # a million calls: no COUNT(*) of the whole table on each page
    inlines = [AttemptInline]


@admin.register(Cdr)
class CdrAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["start", "source", "destination", "disposition", "duration", "billable_seconds", "internal"]
    list_filter = ["disposition", "internal", "pbx"]
    date_hierarchy = "start"
    search_fields = ["call_id", "source", "destination"]
    show_full_result_count = False
