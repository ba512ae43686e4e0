"""Counts are read-only in the admin: they are written only by the services (count, recount, certify)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from elections.models import Count, Recount


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Count)
class CountAdmin(ReadOnlyAdmin):
    list_display = ["title", "method", "rule", "seats", "counted_at", "certified_at"]
    list_filter = ["method", "rule"]
    search_fields = ["title", "blt_sha256", "result_sha256"]
    exclude = ["blt_text", "result_json"]


@admin.register(Recount)
class RecountAdmin(ReadOnlyAdmin):
    list_display = ["count", "recounted_at", "recounted_by", "is_identical"]
    list_filter = ["is_identical"]
