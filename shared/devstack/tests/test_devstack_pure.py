"""Unit tests of the dev stack's pure parts; starting real servers is covered by the integration
suite, which uses them through the `infra` fixture."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from hearth_devstack.cli import build_parser, main
from hearth_devstack.postgres import EmbeddedPostgres, Postmaster
from hearth_devstack.processes import free_ports, port_in_use, read_pid_file, tail
from hearth_devstack.services import SERVICES, available_services
from hearth_devstack.stack import Layout, StackError, _hide_password, find_root


def test_root_is_nearest_directory_with_a_makefile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEARTH_HOME", raising=False)
    (tmp_path / "Makefile").touch()
    nested = tmp_path / "services" / "billing"
    nested.mkdir(parents=True)
    assert find_root(nested) == tmp_path.resolve()


def test_hearth_home_overrides_the_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTH_HOME", str(tmp_path))
    assert find_root(Path("/")) == tmp_path.resolve()


def test_no_repository_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEARTH_HOME", raising=False)
    # pytest's tmp_path lives under the system temporary directory, outside any repository.
    with pytest.raises(StackError, match="HEARTH_HOME"):
        find_root(tmp_path)


def test_layout_keeps_everything_under_dot_hearth(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    assert layout.log("billing") == tmp_path / ".hearth" / "logs" / "billing.log"
    assert layout.pid_file("broker") == tmp_path / ".hearth" / "run" / "broker.pid"
    assert layout.load_state() == {}
    layout.save_state({"broker": {"port": 9092}})
    assert layout.load_state() == {"broker": {"port": 9092}}


def test_postmaster_pid_file_is_parsed(tmp_path: Path) -> None:
    lines = ["4242", str(tmp_path), "1700000000", "45432", str(tmp_path), "127.0.0.1", "  1 2", "ready   "]
    (tmp_path / "postmaster.pid").write_text("\n".join(lines) + "\n")
    assert Postmaster.read(tmp_path) == Postmaster(pid=4242, port=45432, status="ready")


def test_missing_or_garbled_postmaster_pid_means_not_running(tmp_path: Path) -> None:
    assert Postmaster.read(tmp_path) is None
    (tmp_path / "postmaster.pid").write_text("garbage\n")
    assert Postmaster.read(tmp_path) is None


def test_postgres_urls_name_the_hearth_database(tmp_path: Path) -> None:
    pg = EmbeddedPostgres(tmp_path / "pg", 45432)
    assert pg.url == "postgresql+asyncpg://postgres@127.0.0.1:45432/hearth"
    assert pg.dsn == "postgresql://postgres@127.0.0.1:45432/hearth"


def test_only_tests_turn_durability_off(tmp_path: Path) -> None:
    durable = EmbeddedPostgres(tmp_path / "a", 1)._server_argv()
    fast = EmbeddedPostgres(tmp_path / "b", 1, durable=False)._server_argv()
    assert "fsync=off" not in durable and "max_connections=200" in durable
    assert {"fsync=off", "synchronous_commit=off", "full_page_writes=off"} <= set(fast)


def test_free_ports_differ_and_avoid_the_dev_stack_ports() -> None:
    ports = free_ports(3)
    assert len(set(ports)) == 3
    assert not {5432, 9092} & set(ports)


def test_a_listening_port_is_in_use() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert port_in_use(server.getsockname()[1])


def test_pid_file_with_garbage_reads_as_none(tmp_path: Path) -> None:
    (tmp_path / "x.pid").write_text("not a pid\n")
    assert read_pid_file(tmp_path / "x.pid") is None
    assert read_pid_file(tmp_path / "missing.pid") is None
    (tmp_path / "y.pid").write_text("123\n")
    assert read_pid_file(tmp_path / "y.pid") == 123


def test_tail_returns_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert tail(log, 2) == "line 98\nline 99"
    assert "no log" in tail(tmp_path / "missing.log")


def test_passwords_are_hidden_in_printed_urls() -> None:
    assert _hide_password("postgresql+asyncpg://u:secret@db:5432/h") == "postgresql+asyncpg://u:***@db:5432/h"
    assert _hide_password("postgresql+asyncpg://postgres@127.0.0.1:5432/hearth").endswith(
        "postgres@127.0.0.1:5432/hearth"
    )


def test_service_ports_follow_the_operator_contract() -> None:
    assert {s.name: s.port for s in SERVICES} == {
        "dashboard": 8000,
        "referral": 8001,
        "eligibility": 8002,
        "billing": 8003,
        "quality": 8004,
    }
    assert {"referral", "eligibility", "billing", "quality"} <= {s.name for s in available_services()}


def test_up_accepts_only_infra() -> None:
    assert build_parser().parse_args(["up", "--only-infra"]).only_infra is True


def test_demo_without_its_module_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hearth_devstack.demo", None)
    assert main(["demo"]) == 2


def test_demo_options_are_passed_on_to_the_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[list[str]] = []
    fake = type(sys)("hearth_devstack.demo")
    fake.main = lambda argv: received.append(argv) or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "hearth_devstack.demo", fake)
    assert main(["demo", "--members", "300", "--seed", "7"]) == 0
    assert received == [["--members", "300", "--seed", "7"]]


def test_other_commands_refuse_unknown_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["status", "--members", "300"])
    assert "unrecognized arguments: --members 300" in capsys.readouterr().err
