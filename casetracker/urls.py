from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("inbox/", include("casetracker.notifications.urls")),
    path("api/v1/", include("casetracker.api.urls")),
    path("api/v1/", include("patients.api.urls")),
    path("api/v1/", include("batches.api.urls")),
    path("api/v1/", include("batches.reports.urls_api")),
    path("audit/", include("batches.reports.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("i18n/", include("django.conf.urls.i18n")),
]
