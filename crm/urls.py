from django.urls import include, path

from crm import views
from crm.views import conversations, dues, equalities, organising, outreach, segments
from crm.webhooks import anymail_urls

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
    # Joining and dues (Stripe)
    path("join/", dues.join, name="join"),
    path("join/thank-you/", dues.join_done, name="join_done"),
    path("join/<str:token>/unpaid/", dues.join_unpaid, name="join_unpaid"),
    path("join/<str:token>/pay/", dues.join_pay, name="join_pay"),
    path("payments/stripe/webhook/", dues.stripe_webhook, name="stripe_webhook"),
    path("members/<int:member_id>/dues/", dues.member_dues, name="member_dues"),
    path("members/<int:member_id>/dues/method/", dues.member_dues_method, name="member_dues_method"),
    path("members/<int:member_id>/dues/portal/", dues.member_dues_portal, name="member_dues_portal"),
    path("members/<int:member_id>/dues/confirm/", dues.member_confirm, name="member_confirm"),
    path("dues/", dues.dues_overview, name="dues_overview"),
    path("dues/rates/", dues.rate_list, name="rate_list"),
    path("dues/rates/new/", dues.rate_edit, name="rate_create"),
    path("dues/rates/<int:rate_id>/", dues.rate_edit, name="rate_edit"),
    path("outreach/", outreach.campaign_list, name="campaign_list"),
    path("outreach/new/", outreach.campaign_create, name="campaign_create"),
    path("outreach/<int:campaign_id>/", outreach.campaign_detail, name="campaign_detail"),
    path("outreach/<int:campaign_id>/edit/", outreach.campaign_edit, name="campaign_edit"),
    path("outreach/<int:campaign_id>/test/", outreach.campaign_test, name="campaign_test"),
    path("outreach/<int:campaign_id>/send/", outreach.campaign_schedule, name="campaign_schedule"),
    path("outreach/<int:campaign_id>/cancel/", outreach.campaign_cancel, name="campaign_cancel"),
    path("outreach/<int:campaign_id>/progress/", outreach.campaign_progress, name="campaign_progress"),
    path("outreach/inbox/", outreach.inbox, name="outreach_inbox"),
    path("outreach/inbox/<int:text_id>/handled/", outreach.inbox_handled, name="outreach_inbox_handled"),
    path("o/<str:token>/", outreach.opt_out, name="opt_out"),
    path("webhooks/twilio/status/", outreach.twilio_status, name="twilio_status"),
    path("webhooks/twilio/inbound/", outreach.twilio_inbound, name="twilio_inbound"),
    path("anymail/", include(anymail_urls())),
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
