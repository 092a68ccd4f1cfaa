from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("batches", views.BatchViewSet, basename="batch")
router.register("quotas", views.CrossingQuotaViewSet, basename="quota")

urlpatterns = [
    # Before the router's routes, or `proposal` would read as a batch code.
    path("batches/proposal/", views.BatchProposalView.as_view(), name="batch-proposal"),
    *router.urls,
]
