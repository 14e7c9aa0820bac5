from django.urls import path

from lessons.views import api, benchmarks, demos, evidence, pages, sizing

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
    path("api/strategies", api.strategy_list, name="api-strategies"),
    path("api/lab", api.lab_info, name="api-lab"),
    path("api/lab/reset", api.lab_reset, name="api-lab-reset"),
    path("api/runs", api.runs, name="api-runs"),
    path("api/runs/<int:run_id>", api.run_detail, name="api-run"),
    path("api/runs/<int:run_id>/cancel", api.run_cancel, name="api-run-cancel"),
    path("api/connection-cost", api.connection_cost, name="api-connection-cost"),
    path("api/connections", api.connection_list, name="api-connections"),
    path("api/connections/terminate", api.connection_terminate, name="api-terminate"),
    path("demos/sizing/", sizing.sizing_demo, name="demo-sizing"),
    path("demos/sizing/fields/", sizing.sizing_fields, name="demo-sizing-fields"),
    path("demos/benchmarks/", benchmarks.start, name="demo-benchmark-start"),
    path("demos/benchmarks/mine/", benchmarks.mine, name="demo-benchmarks-mine"),
    path("benchmarks/compare/", benchmarks.compare, name="benchmark-compare"),
    path("benchmarks/<int:run_id>/", benchmarks.page, name="benchmark"),
    path("benchmarks/<int:run_id>/cancel/", benchmarks.cancel, name="benchmark-cancel"),
    path("demos/evidence/", evidence.guide, name="demo-evidence"),
    path("api/sizing", sizing.api_sizing, name="api-sizing"),
    path("api/benchmarks", benchmarks.api_benchmarks, name="api-benchmarks"),
    path("api/benchmarks/<int:run_id>", benchmarks.api_benchmark, name="api-benchmark"),
    path("api/<path:path>", api.api_not_found),
]
handler404 = "lessons.boundary.not_found"
handler500 = "lessons.boundary.server_error"
