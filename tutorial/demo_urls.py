from django.urls import path

from lessons.views import probe

urlpatterns = [
    path("probe/release/", probe.release, name="probe-release"),
    path("probe/<str:slug>/", probe.probe_view, name="probe"),
    path("probe/<str:slug>/stats", probe.stats_view, name="probe-stats"),
    path("healthz", probe.healthz, name="demo-healthz"),
]
handler404 = "lessons.boundary.not_found"
handler500 = "lessons.boundary.server_error"
