from django.urls import path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import SimpleRouter

from . import dues, elections, events, imports, organising, outreach, views

app_name = "api"

router = SimpleRouter()
router.register("regions", views.RegionViewSet, basename="region")
router.register("branches", views.BranchViewSet, basename="branch")
router.register("employers", views.EmployerViewSet, basename="employer")
router.register("workplaces", views.WorkplaceViewSet, basename="workplace")
router.register("members", views.MemberViewSet, basename="member")
router.register("positions", views.PositionViewSet, basename="position")
router.register("dues/rates", dues.SubscriptionRateViewSet, basename="dues-rate")
router.register("dues/members", dues.DuesStateViewSet, basename="dues-member")
router.register("dues/payments", dues.DuesPaymentViewSet, basename="dues-payment")
router.register("campaigns", outreach.CampaignViewSet, basename="campaign")
router.register("messages", outreach.MessageViewSet, basename="message")
router.register("segments", organising.SegmentViewSet, basename="segment")
router.register("conversations", organising.ConversationViewSet, basename="conversation")
router.register("assessments", organising.AssessmentViewSet, basename="assessment")
router.register("organising/workplaces", organising.OrganisingWorkplaceViewSet, basename="organising-workplace")
router.register("events", events.EventViewSet, basename="event")
router.register("registrations", events.RegistrationViewSet, basename="registration")
router.register("training-records", events.TrainingRecordViewSet, basename="training-record")
router.register("motions", events.MotionViewSet, basename="motion")
router.register("delegates", events.DelegateViewSet, basename="delegate")
router.register("call-questions", events.CallQuestionViewSet, basename="call-question")
router.register("elections", elections.ElectionViewSet, basename="election")
router.register("imports", imports.ImportJobViewSet, basename="import")

urlpatterns = [
    path("auth/token/", views.ObtainTokenView.as_view(), name="token"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", views.SwaggerDocsView.as_view(), name="docs"),
    path("members/bulk-tag/", organising.BulkTagView.as_view(), name="member-bulk-tag"),
    path("equalities/me/", organising.MyEqualitiesView.as_view(), name="equalities-me"),
    path("organising/training-gaps/", events.TrainingGapsView.as_view(), name="training-gaps"),
    path("equalities/summary/", organising.EqualitiesSummaryView.as_view(), name="equalities-summary"),
    path("equalities/members/<int:member_id>/", organising.MemberEqualitiesView.as_view(), name="equalities-member"),
    path("members/export/", imports.MemberExportView.as_view(), name="member-export"),
    *router.urls,
]
