"""The field pages of cases: the queues, registration, a case's page and readiness."""

from django.urls import path

from .views import imports, queue, record, register, ward

app_name = "patients"

urlpatterns = [
    path("queue/", queue.patient_queue, name="queue"),
    path("queue/export/", queue.patient_queue_export, name="queue-export"),
    path("returnees/", queue.returnee_queue, name="returnees"),
    path("ward/", ward.ward, name="ward"),
    path("patients/new/", register.register, name="register"),
    # Lists of cases from spreadsheets: a pending upload is named by a random id only.
    path("imports/cases/", imports.upload, name="import-cases"),
    path("imports/cases/template/", imports.template, name="import-template"),
    path("imports/cases/<uuid:pending>/", imports.preview, name="import-preview"),
    path("imports/cases/<uuid:pending>/check/", imports.check, name="import-check"),
    path("imports/cases/<uuid:pending>/confirm/", imports.confirm, name="import-confirm"),
    path("imports/cases/<uuid:pending>/discard/", imports.discard, name="import-discard"),
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
