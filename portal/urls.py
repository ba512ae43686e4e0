from django.urls import path

from portal import views
from portal.views import data

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    # Account: sign-in, details, preferences, equalities answers, my data (portal/views/account.py)
    path("data/", data.my_data, name="data"),
    path("data.json", data.my_data_json, name="data_json"),
    path("data/close/", data.my_data_close, name="data_close"),
    # Activity: events, training, ballots (portal/views/activity.py)
]
