"""The coordinators' field pages for batches: the day, the builder, a batch and its manifests."""

from django.urls import path

from .views import batch, builder, clearance_list, manifest, today

app_name = "batches"

urlpatterns = [
    path("today/", today.today, name="today"),
    path("batches/new/", builder.builder, name="builder"),
    path("batches/<str:code>/", batch.detail, name="detail"),
    path("batches/<str:code>/members/", batch.members, name="members"),
    path("batches/<str:code>/clearance/", batch.clearance, name="clearance"),
    path("batches/<str:code>/clearance-list/", clearance_list.upload, name="clearance-list"),
    path(
        "batches/<str:code>/clearance-list/<uuid:pending>/",
        clearance_list.preview,
        name="clearance-list-preview",
    ),
    path(
        "batches/<str:code>/clearance-list/<uuid:pending>/confirm/",
        clearance_list.confirm,
        name="clearance-list-confirm",
    ),
    path(
        "batches/<str:code>/clearance-list/<uuid:pending>/discard/",
        clearance_list.discard,
        name="clearance-list-discard",
    ),
    path("batches/<str:code>/step/<str:name>/", batch.transition, name="transition"),
    path("batches/<str:code>/vehicles/", batch.vehicles, name="vehicles"),
    path("batches/<str:code>/statements/", batch.statement, name="statement"),
    path("batches/<str:code>/manifest.pdf", manifest.batch_pdf, name="manifest-pdf"),
    path("batches/<str:code>/manifest/export/", manifest.batch_export, name="manifest-export"),
    path(
        "batches/<str:code>/vehicles/<int:number>/manifest.pdf",
        manifest.vehicle_pdf,
        name="vehicle-manifest-pdf",
    ),
]
