"""Live aliases in one process: bounded, least recently used closed first, budget kept."""

from __future__ import annotations

import json

import psutil
import psycopg
import pytest
from django.db import close_old_connections, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from lessons import aliases, budget, probe, strategies


@pytest.fixture
def registry(lab, settings, monkeypatch, django_db_blocker):
    settings.LAB = {**settings.LAB, "MAX_LIVE_ALIASES": 2}
    # Django's test case refuses connections to aliases it was not told about; these
    # tests open the lab's own aliases, exactly as the demo server does.
    real = django_db_blocker._real_ensure_connection
    monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", real)
    yield
    aliases.close_all()


def open_backends(lab) -> set[int]:
    """Backends of demo connections this test process holds (not the demo server's)."""
    ours = {c.laddr.port for c in psutil.Process().net_connections(kind="tcp") if c.laddr}
    dsn = lab.database_url.replace("postgres://", "postgresql://", 1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid, client_port FROM pg_stat_activity WHERE usename = 'pooling_lab_demo'"
        ).fetchall()
    return {pid for pid, port in rows if port in ours}


def choice(slug: str, owner: str = "", epoch: str = "", **raw) -> aliases.Choice:
    strategy = strategies.get(slug)
    return aliases.Choice(strategy, strategy.parse(raw), owner, epoch)


def probe_once(slug: str, owner: str = "", epoch: str = "", **raw) -> int:
    picked = choice(slug, owner, epoch, **raw)
    with (held := aliases.checkout(picked)):
        result = probe.measure(held.wrapper, picked, 0, 0)
        close_old_connections()  # what request_finished does at the end of a request
    assert "error" not in result, result.get("error")
    return result["backend_pid"]


def test_the_least_recently_used_alias_is_closed_to_make_room(registry, lab):
    first = probe_once("persistent", conn_max_age="600")
    second = probe_once("persistent", conn_max_age="601")
    assert {first, second} <= open_backends(lab)
    probe_once("persistent", conn_max_age="601")  # now the first is the least recently used
    third = probe_once("persistent", conn_max_age="602")
    # Only two aliases may live: the first was closed, and its backend with it.
    assert first not in open_backends(lab)
    assert {second, third} <= open_backends(lab)
    assert len(aliases.live()) == 2


def test_closing_a_pool_alias_returns_all_its_connections(registry, lab):
    pid = probe_once("native-pool", min_size="3", max_size="3")
    pool_alias = aliases.live()[0].name
    pool_pids = open_backends(lab)
    assert pid in pool_pids and len(pool_pids) >= 1
    aliases.close_all()
    assert pool_alias not in connections.settings
    assert not open_backends(lab) & pool_pids


def test_an_alias_in_use_is_not_evicted_and_the_lab_says_it_is_busy(registry, lab, settings):
    settings.LAB = {**settings.LAB, "MAX_LIVE_ALIASES": 1}
    with (
        aliases.checkout(choice("persistent", conn_max_age="10")),
        pytest.raises(aliases.LabBusy, match="connection budget"),
        aliases.checkout(choice("persistent", conn_max_age="11")),
    ):
        pass


def test_each_learner_gets_connections_of_their_own(registry, lab):
    mine = probe_once("persistent", owner="aaaa0001", conn_max_age="600")
    theirs = probe_once("persistent", owner="bbbb0002", conn_max_age="600")
    # Same strategy and parameters, different learners: never the same backend.
    assert mine != theirs
    assert probe_once("persistent", owner="aaaa0001", conn_max_age="600") == mine


def test_a_new_epoch_closes_the_old_connections_of_that_configuration(registry, lab):
    old = probe_once("persistent", owner="aaaa0001", epoch="0.0", conn_max_age="600")
    new = probe_once("persistent", owner="aaaa0001", epoch="0.1", conn_max_age="600")
    # A fresh start: a new connection, and the old one is closed, not left idle.
    assert new != old
    assert old not in open_backends(lab)
    assert len(aliases.live()) == 1


def test_budget_refuses_a_choice_that_alone_breaks_it(lab):
    dbcp = strategies.get("dbcp")
    share = lab_slices(lab)["wsgi"] // 2
    with pytest.raises(budget.OverBudget) as caught:
        budget.check_choice(dbcp, dbcp.parse({"pool_size": "20", "max_overflow": "20"}))
    assert caught.value.field == "pool_size"
    # The WSGI demo server's slice of the budget, shared by its 2 worker processes.
    assert caught.value.allowed == share
    budget.check_choice(dbcp, dbcp.parse({"pool_size": "5", "max_overflow": "5"}))


def lab_slices(lab) -> dict[str, int]:
    from lessons import lab as lab_config

    return lab_config.budget_slices(lab.budget)


def test_a_configuration_django_refused_closes_quietly_and_the_others_still_close(registry, lab):
    refused = choice("native-pool", conn_max_age="60")
    with (held := aliases.checkout(refused)):
        result = probe.measure(held.wrapper, refused, 0, 0)
    assert result["error"]["kind"] == "improperly-configured"
    pid = probe_once("persistent", conn_max_age="600")
    assert pid in open_backends(lab)
    # Closing the refused alias asks Django for a pool it never built (and refuses again);
    # that must neither raise nor keep the other alias's connection open.
    aliases.close_all()
    assert aliases.live() == []
    assert pid not in open_backends(lab)


def test_a_probe_answers_exactly_its_result_as_json(registry, lab):
    """The served answer is written from a template, not the encoder: it must say the same."""
    picked = choice("native-pool")
    served = probe.probe(picked, 0)
    assert "error" not in served, served.get("error")
    assert json.loads(probe.answer(served)) == served
    # Behind PgBouncer a backend's start may be unknown, and a thread may be named anything.
    odd = {**served, "backend_start": None, "thread": 'a "quoted"\\name\n', "new_backend": True}
    assert json.loads(probe.answer(odd)) == odd
    failed = probe.probe(choice("native-pool", conn_max_age="60"), 0)  # Django refuses it
    assert failed["error"]["kind"] == "improperly-configured"
    assert json.loads(probe.answer(failed)) == failed
