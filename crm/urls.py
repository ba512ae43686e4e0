from django.urls import path

from crm import views
from crm.views import dues

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
]
