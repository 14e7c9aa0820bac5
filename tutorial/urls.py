from django.urls import path

from lessons.views import api, demos, pages, pitfalls

urlpatterns = [
    path("", pages.index, name="index"),
    path("healthz", pages.healthz, name="healthz"),
    path("lessons/<slug:slug>/", pages.lesson, name="lesson"),
    path("lessons/<slug:slug>/state/", pages.lesson_state, name="lesson-state"),
    path("lessons/<slug:slug>/complete/", pages.complete, name="lesson-complete"),
    path("runs/compare/", pages.compare, name="compare"),
    path("runs/<int:run_id>/", pages.run_page, name="run"),
    path("runs/<int:run_id>/cancel/", pages.run_cancel, name="run-cancel"),
    path("monitor/", pages.monitor_page, name="monitor"),
    path("demos/connection-cost/", demos.connection_cost, name="demo-cost"),
    path("demos/runs/", demos.run_start, name="demo-run-start"),
    path("demos/recent/<slug:slug>/", demos.recent_runs, name="demo-recent"),
    path("demos/terminate/", demos.terminate, name="demo-terminate"),
    path("demos/reset/", demos.reset, name="demo-reset"),
    path("demos/pgbouncer/", demos.pgbouncer_panel, name="demo-pgbouncer"),
    path("demos/pitfalls/<slug:slug>/", pitfalls.demo_start, name="demo-pitfall"),
    path("demos/pitfalls/runs/<int:run_id>/", pitfalls.demo_result, name="demo-pitfall-run"),
    path("api/strategies", api.strategy_list, name="api-strategies"),
    path("api/lab", api.lab_info, name="api-lab"),
    path("api/lab/reset", api.lab_reset, name="api-lab-reset"),
    path("api/runs", api.runs, name="api-runs"),
    path("api/runs/<int:run_id>", api.run_detail, name="api-run"),
    path("api/runs/<int:run_id>/cancel", api.run_cancel, name="api-run-cancel"),
    path("api/connection-cost", api.connection_cost, name="api-connection-cost"),
    path("api/connections", api.connection_list, name="api-connections"),
    path("api/connections/terminate", api.connection_terminate, name="api-terminate"),
    path("api/pitfalls", pitfalls.pitfall_list, name="api-pitfalls"),
    path("api/pitfalls/runs/<int:run_id>", pitfalls.pitfall_run_detail, name="api-pitfall-run"),
    path("api/pitfalls/<slug:slug>", pitfalls.pitfall_run, name="api-pitfall"),
    path("api/<path:path>", api.api_not_found),
]
handler404 = "lessons.boundary.not_found"
handler500 = "lessons.boundary.server_error"
