"""The sizing calculator: totals per strategy, overcommit, warnings and bad input.

The generated files are proven for real in test_sizing_files.py.
"""

import pytest

from lessons import sizing
from lessons.params import BadInput

# The embedded test server's max_connections, and PostgreSQL's default.
MAX_CONNECTIONS = 100


def size(**raw):
    return sizing.size(raw, max_connections=MAX_CONNECTIONS)


def test_native_pool_is_one_pool_per_worker_process():
    answer = size(strategy="native-pool", instances=2, workers=4, threads=4, max_size=4)
    # 2 instances x 4 workers, each process with its own pool of max_size 4.
    assert answer["total_server_connections"] == 32
    assert answer["per_process"] == 4
    assert answer["per_instance"] == 16
    assert not answer["overcommitted"]
    assert answer["breakdown"]["words"] == (
        "2 instances x 4 workers x max_size 4 = 32 PostgreSQL connections"
    )
    assert [f["value"] for f in answer["breakdown"]["factors"]] == [2, 4, 4]
    assert answer["warnings"] == []


def test_persistent_is_a_connection_per_thread_and_overcommits_at_100():
    answer = size(strategy="persistent", instances=4, workers=8, threads=4)
    # 4 x 8 x 4 threads, each keeping its own connection: 128 against 100 - 3 reserved.
    assert answer["total_server_connections"] == 128
    assert (answer["max_connections"], answer["reserved"], answer["available"]) == (100, 3, 97)
    assert answer["overcommitted"]
    assert answer["headroom"] == -31
    warning = answer["warnings"][0]
    assert warning.startswith("Overcommitted: this deployment may open 128 connections")
    assert "sorry, too many clients already" in warning
    # 97 // 32 processes = 3 threads per worker fit; 131 = 128 + 3 reserved.
    assert "Lower threads to 3 per worker" in warning
    assert "raise max_connections to at least 131" in warning


def test_the_suggested_thread_count_fits():
    fixed = size(strategy="persistent", instances=4, workers=8, threads=3)
    assert fixed["total_server_connections"] == 96  # 4 x 8 x 3, within 97
    assert not fixed["overcommitted"]


def test_no_pool_counts_a_connection_per_thread_too():
    # Each request opens and closes its own, but all threads at once still hold one each.
    answer = size(strategy="no-pool", instances=1, workers=3, threads=5)
    assert answer["total_server_connections"] == 15
    assert answer["breakdown"]["words"].startswith("1 instance x 3 workers x 5 threads")


def test_dbcp_counts_its_overflow():
    answer = size(strategy="dbcp", instances=3, workers=2, threads=6, pool_size=4, max_overflow=2)
    # 3 x 2 processes x (POOL_SIZE 4 + MAX_OVERFLOW 2).
    assert answer["total_server_connections"] == 36
    assert answer["per_process"] == 6
    assert "(pool_size 4 + up to 2 more under load)" in answer["breakdown"]["words"]


@pytest.mark.parametrize("mode", ["session", "transaction"])
def test_pgbouncer_counts_its_pools_not_djangos_threads(mode):
    answer = size(
        strategy=f"pgbouncer-{mode}",
        instances=10,
        workers=4,
        threads=4,
        pgbouncer_pool_size=20,
        pgbouncer_reserve_pool=5,
        pgbouncer_instances=2,
    )
    # Each of 2 PgBouncers: pool_size 20 + reserve 5. Django's 160 threads are clients.
    assert answer["total_server_connections"] == 50
    assert not answer["overcommitted"]
    assert answer["client_connections"]["total"] == 160
    assert answer["client_connections"]["per_pgbouncer"] == 80


def test_pgbouncer_overcommits_when_its_pools_do():
    answer = size(strategy="pgbouncer-transaction", pgbouncer_pool_size=40, pgbouncer_instances=3)
    assert answer["total_server_connections"] == 120  # 3 PgBouncers x 40
    assert answer["overcommitted"]
    # 97 // 3 = 32 per PgBouncer fits.
    assert "Lower pgbouncer_pool_size (plus pgbouncer_reserve_pool) to 32" in answer["warnings"][0]


def test_pgbouncer_clients_past_max_client_conn_are_a_warning():
    answer = size(strategy="pgbouncer-transaction", instances=4, workers=8, threads=4)
    # 128 Django threads connect to one PgBouncer whose default max_client_conn is 100;
    # the generated file doubles Django's figure for a deploy's overlap.
    assert answer["client_connections"]["max_client_conn"] == 256
    warning = next(w for w in answer["warnings"] if "max_client_conn" in w)
    assert "up to 128 client connections" in warning
    assert "max_client_conn = 256" in warning
    assert "max_client_conn = 256" in answer["files"]["pgbouncer.ini"]


def test_session_mode_with_more_threads_than_server_connections_is_a_queue():
    answer = size(strategy="pgbouncer-session", workers=2, threads=4, pgbouncer_pool_size=4)
    # 8 clients each keep a server connection while connected, 4 exist.
    assert any(
        w.startswith("Session mode gives each Django connection") for w in answer["warnings"]
    )
    same = size(strategy="pgbouncer-transaction", workers=2, threads=4, pgbouncer_pool_size=4)
    assert same["warnings"] == []


def test_reserved_connections_come_off_what_is_available():
    answer = size(
        strategy="native-pool", max_connections=200, superuser_reserved_connections=5,
        reserved_connections=10,
    )  # fmt: skip
    assert (answer["reserved"], answer["available"]) == (15, 185)
    assert any("PostgreSQL 16" in w for w in answer["warnings"])


def test_max_connections_defaults_to_the_live_servers():
    assert sizing.size({"strategy": "no-pool"}, max_connections=250)["max_connections"] == 250


def test_a_pool_smaller_than_the_threads_warns_of_waiting():
    answer = size(strategy="native-pool", threads=8, max_size=4)
    assert answer["warnings"] == [
        "Each worker runs 8 threads but may hold only 4 connections: when more than 4 of its "
        "requests need the database at once, the others wait (up to timeout, 5.0 s) and then "
        "fail. Make it 8."
    ]


def test_a_pool_larger_than_the_threads_wastes_slots():
    answer = size(strategy="dbcp", threads=2, pool_size=4, max_overflow=0)
    assert "2 of them take PostgreSQL slots for nothing" in answer["warnings"][0]


def test_close_to_the_limit_asks_for_a_margin():
    answer = size(strategy="persistent", workers=20, threads=4)  # 80 of 97
    assert answer["warnings"][0].startswith("Close to the limit: 80 of the 97")


def test_min_size_defaults_to_max_size_a_fixed_pool():
    answer = size(strategy="native-pool", max_size=6)
    assert answer["inputs"]["min_size"] == 6


def test_fields_of_another_strategy_are_ignored_and_listed():
    # A plain form sends every field; only the chosen strategy's count.
    answer = size(strategy="persistent", max_overflow="3", pgbouncer_version="1.18", max_size="")
    assert answer["ignored"] == ["max_overflow", "pgbouncer_version"]
    assert "max_overflow" not in answer["inputs"]


def test_sizes_past_the_labs_own_limits_are_allowed():
    # The lab caps demos at max_size 20 and PgBouncer pools at 8; a deployment is bigger.
    assert size(strategy="native-pool", max_size=50, threads=50)["per_process"] == 50
    big = size(strategy="pgbouncer-session", pgbouncer_pool_size=60, threads=60)
    assert big["total_server_connections"] == 60


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"strategy": "native-pool", "pool": "4"}, "pool"),
        ({"strategy": "nope"}, "strategy"),
        ({}, "strategy"),
        ({"strategy": "no-pool", "instances": "0"}, "instances"),
        ({"strategy": "no-pool", "workers": "two"}, "workers"),
        ({"strategy": "no-pool", "threads": "1001"}, "threads"),
        ({"strategy": "no-pool", "threads": "2.5"}, "threads"),
        ({"strategy": "native-pool", "max_size": "0"}, "max_size"),
        ({"strategy": "native-pool", "min_size": "5", "max_size": "4"}, "min_size"),
        ({"strategy": "native-pool", "conn_max_age": "60"}, "conn_max_age"),
        ({"strategy": "dbcp", "max_overflow": "-1"}, "max_overflow"),
        ({"strategy": "persistent", "conn_max_age": "forever"}, "conn_max_age"),
        ({"strategy": "persistent", "health_checks": "maybe"}, "health_checks"),
        ({"strategy": "pgbouncer-session", "pgbouncer_pool_size": "0"}, "pgbouncer_pool_size"),
        ({"strategy": "pgbouncer-session", "pgbouncer_instances": "101"}, "pgbouncer_instances"),
        (
            {"strategy": "pgbouncer-session", "pgbouncer_reserve_pool": "x"},
            "pgbouncer_reserve_pool",
        ),
        ({"strategy": "pgbouncer-session", "pgbouncer_version": "1.17"}, "pgbouncer_version"),
        ({"strategy": "pgbouncer-session", "pgbouncer_version": "2.0"}, "pgbouncer_version"),
        ({"strategy": "pgbouncer-session", "pgbouncer_version": "latest"}, "pgbouncer_version"),
        ({"strategy": "no-pool", "max_connections": "0"}, "max_connections"),
        ({"strategy": "no-pool", "max_connections": "300000"}, "max_connections"),
        ({"strategy": "no-pool", "reserved_connections": "-1"}, "reserved_connections"),
        (
            {
                "strategy": "no-pool",
                "max_connections": "10",
                "superuser_reserved_connections": "10",
            },
            "superuser_reserved_connections",
        ),
    ],
)
def test_bad_input_names_the_field_and_what_is_allowed(raw, field):
    with pytest.raises(BadInput) as caught:
        sizing.size(raw, max_connections=MAX_CONNECTIONS)
    assert caught.value.field == field
    assert caught.value.as_json()["allowed"] not in (None, "", [])


def test_an_unknown_field_lists_the_known_ones():
    with pytest.raises(BadInput) as caught:
        size(strategy="no-pool", worker="4")
    assert "workers" in caught.value.allowed


@pytest.mark.parametrize(("given", "used"), [("1.24.1", "1.24"), ("1.18", "1.18"), ("", "1.21")])
def test_pgbouncer_version_takes_a_patch_level_and_defaults_to_the_labs(given, used):
    answer = sizing.size(
        {"strategy": "pgbouncer-transaction", "pgbouncer_version": given},
        max_connections=MAX_CONNECTIONS,
        pgbouncer_version="1.21.0",
    )
    assert answer["inputs"]["pgbouncer_version"] == used


def pgbouncer_ini(version: str) -> str:
    answer = size(strategy="pgbouncer-transaction", pgbouncer_version=version)
    return answer["files"]["pgbouncer.ini"]


def test_pgbouncer_118_gets_reserve_pool_and_no_prepared_statements():
    # 1.18 refuses max_prepared_statements (added in 1.21) and reserve_pool_size per
    # database (added in 1.24): test_sizing_files.py shows it refusing both.
    ini = pgbouncer_ini("1.18")
    assert " reserve_pool=0 " in ini
    assert "reserve_pool_size=" not in ini
    assert "\nmax_prepared_statements" not in ini


def test_pgbouncer_121_gets_max_prepared_statements_and_still_reserve_pool():
    ini = pgbouncer_ini("1.21")
    assert "\nmax_prepared_statements = 200\n" in ini
    assert " reserve_pool=0 " in ini


def test_pgbouncer_124_gets_reserve_pool_size():
    ini = pgbouncer_ini("1.24")
    assert " reserve_pool_size=0 " in ini
    assert "\nmax_prepared_statements = 200\n" in ini


def test_only_pgbouncer_strategies_get_a_pgbouncer_ini():
    assert set(size(strategy="native-pool")["files"]) == {"settings.py", "gunicorn.conf.py"}
    assert "pgbouncer.ini" in size(strategy="pgbouncer-session")["files"]


def test_the_result_partial_shows_totals_warnings_and_each_file_to_copy():
    from django.template.loader import render_to_string

    answer = size(strategy="pgbouncer-transaction", instances=4, workers=8, threads=4)
    html = render_to_string("lessons/sizing.html#sizing-result", {"sizing": answer})
    assert 'data-testid="sizing-total">2</strong>' in html  # one PgBouncer, pool_size 2
    assert "max_client_conn" in html
    assert html.count('<div class="highlight"') == 3
    # File text is escaped, not markup: the .ini's quotes come back as entities.
    assert "&quot;user&quot; &quot;password&quot;" in html
    over = size(strategy="persistent", instances=4, workers=8, threads=4)
    assert "overcommitted by 31" in render_to_string(
        "lessons/sizing.html#sizing-result", {"sizing": over}
    )
