"""The field pages of cases: the queues, registration, a case's page and readiness."""

from django.urls import path

from .views import queue, record, register, ward

app_name = "patients"

urlpatterns = [
    path("queue/", queue.patient_queue, name="queue"),
    path("returnees/", queue.returnee_queue, name="returnees"),
    path("ward/", ward.ward, name="ward"),
    path("patients/new/", register.register, name="register"),
    path("patients/<str:case_reference>/", record.detail, name="detail"),
    path("patients/<str:case_reference>/readiness/", ward.readiness, name="readiness"),
    path(
        "patients/<str:case_reference>/companions/new/", record.companion_add, name="companion-add"
    ),
    path("patients/<str:case_reference>/referrals/new/", record.referral_add, name="referral-add"),
    path(
        "patients/<str:case_reference>/referrals/<int:referral_id>/decision/",
        record.referral_decide,
        name="referral-decide",
    ),
    path("patients/<str:case_reference>/status/", record.status, name="status"),
]
