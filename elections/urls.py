from django.urls import path

from elections import ballot_views, election_views, views

app_name = "elections"
urlpatterns = [
    path("", election_views.election_list, name="election_list"),
    path("new/", election_views.election_create, name="election_create"),
    path("<int:election_id>/", election_views.election_detail, name="election_detail"),
    path("<int:election_id>/edit/", election_views.election_edit, name="election_edit"),
    path("<int:election_id>/candidates/new/", election_views.candidate_add, name="candidate_add"),
    path(
        "<int:election_id>/candidates/<int:candidate_id>/withdraw/",
        election_views.candidate_withdraw,
        name="candidate_withdraw",
    ),
    path(
        "<int:election_id>/candidates/<int:candidate_id>/photo/",
        ballot_views.candidate_photo,
        name="candidate_photo",
    ),
    path(
        "<int:election_id>/candidates/<int:candidate_id>/photo/edit/",
        election_views.candidate_photo_edit,
        name="candidate_photo_edit",
    ),
    path("<int:election_id>/ballot-order/", election_views.ballot_order, name="ballot_order"),
    path("<int:election_id>/nominations/new/", election_views.branch_nomination_add, name="branch_nomination_add"),
    path("<int:election_id>/questions/new/", election_views.question_add, name="question_add"),
    path("<int:election_id>/open/", election_views.election_open, name="election_open"),
    path("<int:election_id>/roll/add/", election_views.roll_add, name="roll_add"),
    path("<int:election_id>/roll/<int:entry_id>/reissue/", election_views.roll_reissue, name="roll_reissue"),
    path("<int:election_id>/turnout/", election_views.election_turnout, name="election_turnout"),
    path("<int:election_id>/close/", election_views.election_close, name="election_close"),
    path("<int:election_id>/certify/", election_views.election_certify, name="election_certify"),
    path("<int:election_id>/publish/", election_views.election_publish, name="election_publish"),
    path("<int:election_id>/vote/", ballot_views.vote, name="vote"),
    path("<int:election_id>/results/", ballot_views.results, name="results"),
    path("<int:election_id>/receipts/", ballot_views.receipts, name="receipts"),
    path("counts/", views.count_list, name="count_list"),
    path("counts/new/", views.count_create, name="count_create"),
    path("counts/<int:count_id>/", views.count_detail, name="count_detail"),
    path("counts/<int:count_id>/result.json", views.count_json, name="count_json"),
    path("counts/<int:count_id>/result.csv", views.count_csv, name="count_csv"),
    path("counts/<int:count_id>/ballots.blt", views.count_blt, name="count_blt"),
    path("counts/<int:count_id>/print/", views.count_print, name="count_print"),
    path("counts/<int:count_id>/recount/", views.count_recount, name="count_recount"),
    path("counts/<int:count_id>/certify/", views.count_certify, name="count_certify"),
]
