"""docker-compose.yml: valid for Debian's docker-compose, and naming only settings and ports the
code has (it cannot be run here: no Docker engine)."""

from hearth_platform import tracing

from .deployment import (
    COMPOSE,
    DASHBOARD_SETTINGS,
    HEARTH_NAME,
    PORTS,
    ROOT,
    SERVICE_SETTINGS,
    app_module,
    bind_mounts,
    command_port,
    compose_config,
    dockerfile_ports,
    route_paths,
    settings_of,
)


def test_docker_compose_accepts_the_file() -> None:
    services = compose_config()["services"]
    assert {"kafka", "postgres", "topics", *PORTS} <= services.keys()


def test_each_container_is_given_only_settings_its_process_reads() -> None:
    for name, service in compose_config()["services"].items():
        command = service.get("command") or []
        environment = service.get("environment") or {}
        hearth = {k for k in environment if k.startswith("HEARTH_")}
        assert hearth <= settings_of(command), f"{name}: {sorted(hearth - settings_of(command))}"
        otel = {k for k in environment if k.startswith("OTEL_")}
        assert otel <= tracing.VARIABLES, f"{name}: {sorted(otel - tracing.VARIABLES)}"


def test_every_hearth_name_in_the_file_is_a_setting() -> None:
    """Also the names only used for substitution (`${HEARTH_AUTH_ISSUER:-...}`)."""
    named = set(HEARTH_NAME.findall(COMPOSE.read_text()))
    assert named, "the compose file names no HEARTH_ setting: the check would prove nothing"
    assert named <= SERVICE_SETTINGS | DASHBOARD_SETTINGS, sorted(
        named - SERVICE_SETTINGS - DASHBOARD_SETTINGS
    )


def test_services_give_the_auth_settings_of_an_identity_provider() -> None:
    for name in ("referral", "eligibility", "billing", "quality"):
        environment = compose_config()["services"][name]["environment"]
        assert environment["HEARTH_AUTH_JWKS_URL"] == "file:///run/hearth-auth/jwks.json"
        assert environment["HEARTH_AUTH_ISSUER"] == "hearth-dev"
        assert environment["HEARTH_AUTH_AUDIENCE"] == "hearth"


def test_each_service_listens_and_publishes_on_its_dev_stack_port() -> None:
    services = compose_config()["services"]
    for name, port in PORTS.items():
        command = services[name]["command"]
        assert command_port(command) == port, name
        published = {(int(p["published"]), int(p["target"])) for p in services[name]["ports"]}
        assert published == {(port, port)}, name
        assert app_module(command) == f"hearth_{name}.app", name


def test_the_image_exposes_exactly_the_dev_stack_ports() -> None:
    assert dockerfile_ports() == set(PORTS.values())


def test_health_checks_and_dashboard_targets_are_real_routes_and_ports() -> None:
    """The dashboard is pointed at every service's compose name and port, and each exposes /health."""
    from hearth_dashboard.settings import parse_services

    services = compose_config()["services"]
    watched = parse_services(services["dashboard"]["environment"]["HEARTH_DASHBOARD_SERVICES"])
    assert watched == {name: f"http://{name}:{PORTS[name]}" for name in PORTS if name != "dashboard"}
    for name in watched:
        assert "/health" in route_paths(f"hearth_{name}.app"), name


def test_bind_mounts_name_files_in_the_repository() -> None:
    for name, service in compose_config()["services"].items():
        for source in bind_mounts(service):
            if "/deploy/" in source:
                relative = source.split(str(ROOT) + "/", 1)[-1]
                assert (ROOT / relative).exists(), f"{name} mounts {relative}, which does not exist"
