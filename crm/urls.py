from django.urls import path

from crm import views
from crm.views import conversations, equalities, organising, segments

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
    # Organising: tags, segments, conversations, assessments, equalities, organising views.
    path("members/bulk-tag/", segments.bulk_tag, name="bulk_tag"),
    path("members/bulk-tag/jobs/<str:job_id>/", segments.bulk_tag_job, name="bulk_tag_job"),
    path("members/<int:member_id>/tags/", segments.member_tag, name="member_tag"),
    path("members/<int:member_id>/conversations/new/", conversations.conversation_create, name="conversation_create"),
    path("members/<int:member_id>/assessments/new/", conversations.assessment_create, name="assessment_create"),
    path("members/<int:member_id>/equalities/", equalities.member_equalities, name="member_equalities"),
    path("members/<int:member_id>/equalities/edit/", equalities.member_equalities_edit, name="member_equalities_edit"),
    path("conversations/<int:conversation_id>/follow-up-done/", conversations.follow_up_done, name="follow_up_done"),
    path("my-equalities/", equalities.my_equalities, name="my_equalities"),
    path("my-equalities/withdraw/", equalities.my_equalities_withdraw, name="my_equalities_withdraw"),
    path("organising/", organising.organising_home, name="organising_home"),
    path("organising/density/", organising.density, name="organising_density"),
    path("organising/assessments/", organising.assessments, name="organising_assessments"),
    path("organising/without-reps/", organising.without_reps, name="organising_without_reps"),
    path("organising/equalities/", equalities.equalities_summary_page, name="equalities_summary"),
    path("organising/follow-ups/", conversations.follow_up_list, name="follow_up_list"),
    path("organising/segments/", segments.segment_list, name="segment_list"),
    path("organising/segments/new/", segments.segment_create, name="segment_create"),
    path("organising/segments/<int:segment_id>/edit/", segments.segment_edit, name="segment_edit"),
    path("organising/segments/<int:segment_id>/delete/", segments.segment_delete, name="segment_delete"),
]
