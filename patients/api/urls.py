from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("patients", views.PatientViewSet, basename="patient")
router.register("companions", views.CompanionViewSet, basename="companion")
router.register("referrals", views.ReferralViewSet, basename="referral")
router.register("returnees", views.ReturneeViewSet, basename="returnee")

urlpatterns = router.urls
