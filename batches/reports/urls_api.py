from django.urls import path

from . import api
from .tables import REPORTS

urlpatterns = [
    *(
        path(f"reports/{name}/", api.ReportView.as_view(report=report), name=f"report-{name}")
        for name, report in REPORTS.items()
    ),
    path(
        "reports/batches/<str:code>/timeline/",
        api.BatchTimelineView.as_view(),
        name="report-batch-timeline",
    ),
    path(
        "reports/patients/<str:case_reference>/journey/",
        api.PatientJourneyView.as_view(),
        name="report-patient-journey",
    ),
]
