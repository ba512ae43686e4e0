from django.urls import path

from events import views

app_name = "events"
urlpatterns = [
    path("", views.event_list, name="event_list"),
    path("new/", views.event_create, name="event_create"),
    path("<int:event_id>/", views.event_detail, name="event_detail"),
    path("<int:event_id>/calendar.ics", views.event_ics, name="event_ics"),
    path("<int:event_id>/manage/", views.event_manage, name="event_manage"),
    path("<int:event_id>/edit/", views.event_edit, name="event_edit"),
    path("<int:event_id>/stewards/<int:steward_id>/remove/", views.steward_remove, name="steward_remove"),
    path("<int:event_id>/registrations.csv", views.event_export, name="event_export"),
    path("<int:event_id>/check-in/", views.event_check_in, name="event_check_in"),
    path("<int:event_id>/cancel/", views.event_cancel, name="event_cancel"),
    path("<int:event_id>/certify/", views.event_award, name="event_award"),
    path("<int:event_id>/motions/", views.conference_motions, name="conference_motions"),
    path("<int:event_id>/delegates/", views.conference_delegates, name="conference_delegates"),
    path("registrations/<int:registration_id>/", views.registration_detail, name="registration_detail"),
    path("registrations/<int:registration_id>/cancel/", views.registration_cancel, name="registration_cancel"),
    path("delegates/<int:delegate_id>/", views.delegate_credential, name="delegate_credential"),
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar_feed"),
    path("courses/", views.course_list, name="course_list"),
    path("training/members/<int:member_id>/", views.training_record, name="member_training"),
    path("training/gaps/", views.training_gaps, name="training_gaps"),
]
