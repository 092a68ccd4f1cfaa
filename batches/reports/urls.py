from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("", views.index, name="index"),
    path("cancellations/", views.cancellations, name="cancellations"),
    path("reports/", views.overview, name="overview"),
    path("reports/<slug:name>/", views.report, name="report"),
    path("batches/<str:code>/", views.batch_timeline, name="batch"),
    path("patients/<str:case_reference>/", views.patient_journey, name="patient"),
]
