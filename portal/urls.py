from django.urls import path

from portal import views
from portal.views import account, signin

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
    # Activity: events, training, ballots (portal/views/activity.py)
]
