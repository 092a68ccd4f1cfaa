from csp.constants import SELF
from csp.decorators import csp_update
from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from . import health, views

REDOC_SEARCH_WORKER = csp_update({"worker-src": [SELF, "blob:"]})

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("account/two-factor/", include("casetracker.accounts.twofactor.urls")),
    path("inbox/", include("casetracker.notifications.urls")),
    path("", include("patients.urls")),
    path("", include("batches.urls")),
    path("api/v1/", include("casetracker.api.urls")),
    path("api/v1/", include("patients.api.urls")),
    path("api/v1/", include("batches.api.urls")),
    path("api/v1/", include("batches.reports.urls_api")),
    path("audit/", include("batches.reports.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script from a URL, not inline (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    # Redoc's search runs in a worker made from a blob: URL, which the CSP allows on no other
    # page; templates/drf_spectacular/redoc.html deals with the rest of Redoc.
    path(
        "api/redoc/",
        REDOC_SEARCH_WORKER(SpectacularRedocView.as_view(url_name="schema")),
        name="api-redoc",
    ),
    path("i18n/setlang/", views.set_language, name="set_language"),
    # For load balancers and monitoring; ProbeMiddleware answers them first (health.py).
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]

# Under /api/ an unmatched URL answers JSON like every API error (casetracker/api/handlers.py).
handler404 = "casetracker.api.handlers.not_found"

if settings.BENCH_BARE_VIEWS:
    # The benchmark's baseline (bench/bare.py): off unless `make bench` turns it on.
    urlpatterns.append(path("bench/bare/", include("bench.urls")))
