"""The public certificate checker, outside /me/: whoever is shown a certificate checks it without an account."""

from django.urls import path

from portal.views import certificates

app_name = "certificates"

urlpatterns = [
    path("check/", certificates.certificate_check, name="check"),
]
