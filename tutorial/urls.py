from django.urls import path

from lessons.views import api, demos, learning, pages, progress_api

urlpatterns = [
    path("", pages.index, name="index"),
    path("healthz", pages.healthz, name="healthz"),
    path("lessons/<slug:slug>/", pages.lesson, name="lesson"),
    path("lessons/<slug:slug>/state/", pages.lesson_state, name="lesson-state"),
    path("lessons/<slug:slug>/complete/", pages.complete, name="lesson-complete"),
    path(
        "lessons/<slug:slug>/checkpoints/<slug:checkpoint_id>/",
        learning.checkpoint,
        name="checkpoint",
    ),
    path(
        "lessons/<slug:slug>/checkpoints/<slug:checkpoint_id>/predict/",
        learning.predict,
        name="checkpoint-predict",
    ),
    path(
        "lessons/<slug:slug>/checkpoints/<slug:checkpoint_id>/run/",
        learning.run,
        name="checkpoint-run",
    ),
    path(
        "lessons/<slug:slug>/checkpoints/<slug:checkpoint_id>/cost/",
        learning.measure_cost,
        name="checkpoint-cost",
    ),
    path(
        "lessons/<slug:slug>/checkpoints/<slug:checkpoint_id>/measure/",
        learning.measure,
        name="checkpoint-measure",
    ),
    path("lessons/<slug:slug>/quiz/<slug:question_id>/", learning.answer, name="quiz-answer"),
    path("progress/", progress_api.page, name="progress"),
    path("progress/import/", progress_api.import_form, name="progress-import"),
    path("progress/reset/", progress_api.reset_form, name="progress-reset"),
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
    path("api/lessons", progress_api.lessons_api, name="api-lessons"),
    path("api/progress", progress_api.progress_api, name="api-progress"),
    path("api/progress/export", progress_api.export, name="api-progress-export"),
    path("api/progress/import", progress_api.import_api, name="api-progress-import"),
    path("api/progress/reset", progress_api.reset_api, name="api-progress-reset"),
    path("api/<path:path>", api.api_not_found),
]
handler404 = "lessons.boundary.not_found"
handler500 = "lessons.boundary.server_error"
