from django.urls import path

from lessons.views import probe

urlpatterns = [
    # The probe first: it is nearly every request these servers answer.
    path("probe/<str:slug>/", probe.probe_view, name="probe"),
    path("release/", probe.release, name="probe-release"),
    path("probe/<str:slug>/stats", probe.stats_view, name="probe-stats"),
    path("healthz", probe.healthz, name="demo-healthz"),
]
handler404 = "lessons.boundary.not_found"
handler500 = "lessons.boundary.server_error"
