from django.urls import path

from lessons.views import api, demos, pages

urlpatterns = [
    path("", pages.index, name="index"),
    path("lessons/<slug:slug>/", pages.lesson, name="lesson"),
    path("lessons/<slug:slug>/complete/", pages.complete, name="lesson-complete"),
    path("runs/compare/", pages.compare, name="compare"),
    path("runs/<int:run_id>/", pages.run_page, name="run"),
    path("monitor/", pages.monitor_page, name="monitor"),
    path("demos/connection-cost/", demos.connection_cost, name="demo-cost"),
    path("demos/runs/", demos.run_start, name="demo-run-start"),
    path("demos/recent/<slug:slug>/", demos.recent_runs, name="demo-recent"),
    path("demos/terminate/", demos.terminate, name="demo-terminate"),
    path("probe/<str:slug>/", api.probe_view, name="probe"),
    path("bare/", api.bare, name="bare"),
    path("api/strategies", api.strategy_list, name="api-strategies"),
    path("api/lab", api.lab_info, name="api-lab"),
    path("api/runs", api.run_create, name="api-runs"),
    path("api/runs/<int:run_id>", api.run_detail, name="api-run"),
    path("api/connection-cost", api.connection_cost, name="api-connection-cost"),
    path("api/connections", api.connection_list, name="api-connections"),
    path("api/connections/terminate", api.connection_terminate, name="api-terminate"),
    path("api/<path:path>", api.api_not_found),
]
