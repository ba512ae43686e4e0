"""Admin for events and courses. Registrations and certifications change only through the services (places
are counted under the event lock, every change audited), so they are read-only here, and scoped like the
rest of the admin for staff who are not superusers."""

from django.contrib import admin

from crm.admin import ScopedAdmin
from crm.selectors import members_visible_to
from events.models import Certification, Course, DelegateAllocation, Event, Registration
from events.selectors import registrations_visible_to


def certifications_visible_to(user):
    return Certification.objects.filter(member__in=members_visible_to(user))


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ["title", "code"]
    filter_horizontal = ["prerequisites"]
    search_fields = ["title", "code"]


class ReadOnlyAdmin(ScopedAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["title", "kind", "starts_at", "capacity", "audience", "host_branch", "host_region"]
    list_filter = ["kind", "audience"]
    search_fields = ["title"]
    date_hierarchy = "starts_at"


@admin.register(Registration)
class RegistrationAdmin(ReadOnlyAdmin):
    scope = registrations_visible_to
    list_display = ["event", "member", "status", "attendance", "created_at"]
    list_filter = ["status", "attendance"]
    exclude = ["access_needs"]  # sensitive: shown only to the event's organisers, on the event's pages


@admin.register(Certification)
class CertificationAdmin(ReadOnlyAdmin):
    scope = certifications_visible_to
    list_display = ["member", "course", "completed_on"]
    list_filter = ["course"]


@admin.register(DelegateAllocation)
class DelegateAllocationAdmin(ReadOnlyAdmin):
    list_display = ["event", "branch", "members", "delegates"]
