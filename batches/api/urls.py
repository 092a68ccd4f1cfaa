from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("batches", views.BatchViewSet, basename="batch")
router.register("quotas", views.CrossingQuotaViewSet, basename="quota")

urlpatterns = router.urls
