from django.urls import path

from portal import views
from portal.views import account, activity, certificates, data, signin

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    # Account: sign-in, details, preferences, equalities answers, my data (portal/views/account.py)
    path("sign-in/", signin.sign_in, name="sign_in"),
    path("sign-in/code/", signin.sign_in_code, name="sign_in_code"),
    path("sign-in/link/<str:token>/", signin.sign_in_link, name="sign_in_link"),
    path("details/", account.details, name="details"),
    path("details/workplace/", account.workplace_change, name="workplace_change"),
    path("details/workplace/withdraw/", account.workplace_change_withdraw, name="workplace_change_withdraw"),
    path("preferences/", account.preferences, name="preferences"),
    path("equalities/", account.equalities, name="equalities"),
    path("equalities/erase/", account.equalities_erase, name="equalities_erase"),
    path("data/", data.my_data, name="data"),
    path("data.json", data.my_data_json, name="data_json"),
    path("data/close/", data.my_data_close, name="data_close"),
    # Activity: events, training, ballots (portal/views/activity.py)
    path("events/", activity.events, name="events"),
    path("events/registrations/<int:registration_id>/", activity.registration, name="registration"),
    path(
        "events/registrations/<int:registration_id>/cancel/",
        activity.registration_cancel,
        name="registration_cancel",
    ),
    path("training/", activity.training, name="training"),
    path(
        "training/certificates/<int:certification_id>/",
        certificates.certificate,
        name="certificate",
    ),
    path("ballots/", activity.ballots, name="ballots"),
    path("ballots/receipt-check/", activity.receipt_check, name="receipt_check"),
    path("ballots/<int:election_id>/vote/", activity.ballot_vote, name="ballot_vote"),
    path("ballots/<int:election_id>/new-link/", activity.ballot_new_link, name="ballot_new_link"),
    path("ballots/<int:election_id>/nominate/", activity.nominate, name="nominate"),
    path("ballots/<int:election_id>/accept/", activity.accept_nomination, name="accept_nomination"),
    path("ballots/candidacies/<int:candidate_id>/reserved-seats/", activity.reserved_seats, name="reserved_seats"),
    path("ballots/candidacies/<int:candidate_id>/photo/", activity.candidate_photo, name="candidate_photo"),
]
