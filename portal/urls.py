from django.urls import path

from portal import views
from portal.views import activity

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    # Account: sign-in, details, preferences, equalities answers, my data (portal/views/account.py)
    # Activity: events, training, ballots (portal/views/activity.py)
    path("events/", activity.events, name="events"),
    path("events/registrations/<int:registration_id>/", activity.registration, name="registration"),
    path(
        "events/registrations/<int:registration_id>/cancel/",
        activity.registration_cancel,
        name="registration_cancel",
    ),
    path("training/", activity.training, name="training"),
    path("ballots/", activity.ballots, name="ballots"),
    path("ballots/receipt-check/", activity.receipt_check, name="receipt_check"),
    path("ballots/<int:election_id>/vote/", activity.ballot_vote, name="ballot_vote"),
    path("ballots/<int:election_id>/new-link/", activity.ballot_new_link, name="ballot_new_link"),
    path("ballots/<int:election_id>/nominate/", activity.nominate, name="nominate"),
    path("ballots/<int:election_id>/accept/", activity.accept_nomination, name="accept_nomination"),
    path("ballots/candidacies/<int:candidate_id>/reserved-seats/", activity.reserved_seats, name="reserved_seats"),
    path("ballots/candidacies/<int:candidate_id>/photo/", activity.candidate_photo, name="candidate_photo"),
]
