from django.urls import path

from elections import views

app_name = "elections"
urlpatterns = [
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
