"""`/bench/bare/`: the benchmark's baseline views (bench/bare.py), mounted only when the
setting `BENCH_BARE_VIEWS` is on."""

from django.urls import path

from . import bare

urlpatterns = [
    path("patients/", bare.patients, name="bare-patients"),
    path("patients/<str:case_reference>/", bare.patient, name="bare-patient"),
    path("batches/", bare.batches, name="bare-batches"),
    path("batches/<str:code>/", bare.batch, name="bare-batch"),
    path("batches/<str:code>/members/", bare.Manifest.as_view(), name="bare-manifest"),
    path("events/", bare.events, name="bare-events"),
    path("events/<int:pk>/", bare.event, name="bare-event"),
    path("notifications/", bare.notifications, name="bare-notifications"),
    path("notifications/<int:pk>/", bare.notification, name="bare-notification"),
    path("cancellations/", bare.Cancellations.as_view(), name="bare-cancellations"),
    path("queue/", bare.Queue.as_view(), name="bare-queue"),
    path("batch-page/<str:code>/", bare.BatchPage.as_view(), name="bare-batch-page"),
    path("today/", bare.Today.as_view(), name="bare-today"),
]
