from django.urls import path

from crm import views

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("members/", views.member_list, name="member_list"),
    path("members/new/", views.member_create, name="member_create"),
    path("members/<int:member_id>/", views.member_detail, name="member_detail"),
    path("members/<int:member_id>/edit/", views.member_edit, name="member_edit"),
    path("members/<int:member_id>/positions/new/", views.position_create, name="position_create"),
    path("positions/<int:position_id>/end/", views.position_end, name="position_end"),
    path("workplaces/<int:workplace_id>/", views.workplace_detail, name="workplace_detail"),
    path("my-workplaces/", views.my_workplaces, name="my_workplaces"),
]

# Imports and exports (crm/views/imports.py).
from crm.views import imports as import_views  # noqa: E402

urlpatterns += [
    path("members/export.csv", import_views.member_export, name="member_export"),
    path("imports/", import_views.import_list, name="import_list"),
    path("imports/new/", import_views.import_new, name="import_new"),
    path("imports/<int:job_id>/", import_views.import_detail, name="import_detail"),
    path("imports/<int:job_id>/mapping/", import_views.import_mapping, name="import_mapping"),
    path("imports/<int:job_id>/confirm/", import_views.import_confirm, name="import_confirm"),
    path("imports/<int:job_id>/report.csv", import_views.import_report_csv, name="import_report_csv"),
]
