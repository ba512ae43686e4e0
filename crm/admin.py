"""Django admin for every model, scoped like everything else for users who are not superusers.

Changes to members and positions made here are written to the audit trail, as through any page.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from crm import selectors
from crm.models import (
    AuditEntry,
    Branch,
    Employer,
    Member,
    MembershipSnapshot,
    Position,
    Region,
    SecurityEvent,
    Tag,
    User,
    Workplace,
)
from crm.services import record_audit

# For each foreign key a staff user may set, the scoped choices they may pick from.
SCOPED_CHOICES = {
    "region": selectors.regions_visible_to,
    "branch": selectors.branches_visible_to,
    "workplace": selectors.workplaces_visible_to,
    "employer": selectors.employers_visible_to,
    "member": selectors.members_visible_to,
}


class ScopedAdmin(admin.ModelAdmin):
    """Superusers see everything; other staff see only what the scope selectors give them."""

    scope = None  # a selector taking the user

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser or self.scope is None:
            return queryset
        return queryset.filter(pk__in=type(self).scope(request.user).values("pk"))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if not request.user.is_superuser and db_field.name in SCOPED_CHOICES:
            kwargs["queryset"] = SCOPED_CHOICES[db_field.name](request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class AuditedAdmin(ScopedAdmin):
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        record_audit(
            actor=request.user,
            action=AuditEntry.Action.UPDATE if change else AuditEntry.Action.CREATE,
            target=obj,
            member=obj if isinstance(obj, Member) else getattr(obj, "member", None),
            summary=f"{'Changed' if change else 'Added'} in admin: {', '.join(form.changed_data)}",
            changes={field: [None, str(form.cleaned_data.get(field))] for field in form.changed_data},
        )


@admin.register(Region)
class RegionAdmin(ScopedAdmin):
    scope = selectors.regions_visible_to
    list_display = ["name", "code"]
    search_fields = ["name"]


@admin.register(Branch)
class BranchAdmin(ScopedAdmin):
    scope = selectors.branches_visible_to
    list_display = ["name", "region", "code"]
    list_filter = ["region"]
    search_fields = ["name"]


@admin.register(Employer)
class EmployerAdmin(ScopedAdmin):
    scope = selectors.employers_visible_to
    list_display = ["name", "kind"]
    list_filter = ["kind"]
    search_fields = ["name"]


@admin.register(Workplace)
class WorkplaceAdmin(ScopedAdmin):
    scope = selectors.workplaces_visible_to
    list_display = ["name", "branch", "employer", "sector", "eligible_staff"]
    list_filter = ["sector"]
    search_fields = ["name", "postcode"]
    list_select_related = ["branch", "employer"]
    autocomplete_fields = ["employer"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


class PositionInline(admin.TabularInline):
    model = Position
    extra = 0
    fields = ["kind", "workplace", "branch", "region", "started_on", "ended_on"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if not request.user.is_superuser and db_field.name in SCOPED_CHOICES:
            kwargs["queryset"] = SCOPED_CHOICES[db_field.name](request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Member)
class MemberAdmin(AuditedAdmin):
    scope = selectors.members_visible_to
    list_display = ["membership_number", "last_name", "first_name", "branch", "workplace", "category", "status"]
    list_filter = ["status", "category", "has_arrears"]
    search_fields = ["membership_number", "last_name", "email"]
    list_select_related = ["branch", "workplace"]
    raw_id_fields = ["workplace"]
    readonly_fields = ["email_consent_source", "email_consent_at", "sms_consent_source", "sms_consent_at", "created_at"]
    filter_horizontal = ["tags"]
    inlines = [PositionInline]
    show_full_result_count = False  # a count of a million rows on every admin page is not worth it


@admin.register(Position)
class PositionAdmin(AuditedAdmin):
    scope = selectors.positions_visible_to
    list_display = ["member", "kind", "place", "started_on", "ended_on"]
    list_filter = ["kind"]
    raw_id_fields = ["member"]
    list_select_related = ["member", "workplace", "branch", "region"]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "actor_name", "action", "target_type", "target_id", "summary"]
    list_filter = ["action", "target_type"]
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(member__in=selectors.members_visible_to(request.user))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(MembershipSnapshot)
class MembershipSnapshotAdmin(ScopedAdmin):
    list_display = ["taken_on", "branch", "status", "members"]
    list_filter = ["status"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(branch__in=selectors.branches_visible_to(request.user))


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "email", "role", "member", "is_active"]
    list_filter = ["role", "is_active", "is_staff"]
    raw_id_fields = ["member"]
    filter_horizontal = ["regions", "branches", "groups", "user_permissions"]
    fieldsets = [
        *BaseUserAdmin.fieldsets,
        ("Role and scope", {"fields": ["role", "member", "regions", "branches"]}),
    ]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        # Only national admins manage accounts; anyone else sees only their own.
        return queryset if request.user.is_national else queryset.filter(pk=request.user.pk)


@admin.register(SecurityEvent)
class SecurityEventAdmin(admin.ModelAdmin):
    """The security log, read-only, for national admins (see crm.models.security)."""

    list_display = ["at", "kind", "username", "ip_address", "actor_name", "summary"]
    list_filter = ["kind"]
    search_fields = ["username", "ip_address"]
    date_hierarchy = "at"

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_national

    has_view_permission = has_module_permission

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
