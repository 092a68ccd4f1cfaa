from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("facilities", views.FacilityViewSet, basename="facility")
router.register("events", views.EventViewSet, basename="event")
router.register("notifications", views.NotificationViewSet, basename="notification")

urlpatterns = [
    path("auth/token/", views.TokenView.as_view(), name="api-token"),
    *router.urls,
]
