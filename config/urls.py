from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("api.urls")),
    path("elections/", include("elections.urls")),
    path("events/", include("events.urls")),
    path("me/", include("portal.urls")),
    path("certificates/", include("portal.certificate_urls")),
    path("", include("crm.urls")),
]
