from django.urls import path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import SimpleRouter

from . import imports, views

app_name = "api"

router = SimpleRouter()
router.register("regions", views.RegionViewSet, basename="region")
router.register("branches", views.BranchViewSet, basename="branch")
router.register("employers", views.EmployerViewSet, basename="employer")
router.register("workplaces", views.WorkplaceViewSet, basename="workplace")
router.register("members", views.MemberViewSet, basename="member")
router.register("positions", views.PositionViewSet, basename="position")
router.register("imports", imports.ImportJobViewSet, basename="import")

urlpatterns = [
    path("auth/token/", views.ObtainTokenView.as_view(), name="token"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", views.SwaggerDocsView.as_view(), name="docs"),
    path("members/export/", imports.MemberExportView.as_view(), name="member-export"),
    *router.urls,
]
