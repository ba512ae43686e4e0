from django.urls import include, path

from crm import views
from crm.views import dues, outreach
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
]
