from django.urls import path

from portal import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    # Account: sign-in, details, preferences, equalities answers, my data (portal/views/account.py)
    # Activity: events, training, ballots (portal/views/activity.py)
]
