"""deploy/k8s: the production overlay renders with kubectl's kustomize, every resource passes the
Kubernetes API schema (strict: unknown fields are errors), and it names only settings, ports and
routes the code has."""

import copy

import kubernetes_validate
import pytest
from kubernetes_validate.utils import ValidationError

from hearth_dashboard.settings import parse_services
from hearth_platform import tracing

from .deployment import (
    DASHBOARD_SETTINGS,
    PORTS,
    SERVICE_SETTINGS,
    app_module,
    command_port,
    compose_config,
    containers,
    dockerfile_ports,
    kubernetes_resources,
    resources_of,
    route_paths,
    settings_of,
)

#: The Kubernetes release the manifests are checked against (autoscaling/v2 and policy/v1 are GA
#: since 1.23 and 1.21).
KUBERNETES_VERSION = "1.30.0"
WORKLOADS = tuple(PORTS)  # the dashboard and the four services


def test_every_rendered_resource_is_valid_kubernetes() -> None:
    resources = kubernetes_resources()
    for resource in resources:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
    kinds = {(r["kind"], r["metadata"]["name"]) for r in resources}
    for name in WORKLOADS:
        for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
            assert (kind, name) in kinds
    assert ("ConfigMap", "hearth-config") in kinds
    assert ("Job", "hearth-topics") in kinds
    assert all(r["metadata"].get("namespace") == "hearth" for r in resources if r["kind"] != "Namespace")


def test_the_schema_check_rejects_a_misspelt_field() -> None:
    """Guards the check above: strict validation fails on a field Kubernetes does not have."""
    deployment = copy.deepcopy(resources_of("Deployment")["referral"])
    deployment["spec"]["replica"] = 3
    with pytest.raises(ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_each_deployment_probes_real_routes_and_is_bounded_and_unprivileged() -> None:
    for name in WORKLOADS:
        pod = resources_of("Deployment")[name]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        routes = route_paths(app_module(container["command"]))
        assert container["readinessProbe"]["httpGet"]["path"] == "/health", name
        expected_live = "/health/live" if name != "dashboard" else "/health"
        assert container["livenessProbe"]["httpGet"]["path"] == expected_live, name
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            assert container[probe]["httpGet"]["path"] in routes, f"{name} {probe}"
        assert {"cpu", "memory"} <= container["resources"]["limits"].keys(), name
        assert {"cpu", "memory"} <= container["resources"]["requests"].keys(), name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
        assert container["image"] == "registry.example.org/hearth/hearth:0.1.0", name


def test_autoscalers_and_disruption_budgets_cover_each_deployment() -> None:
    for name in WORKLOADS:
        deployment = resources_of("Deployment")[name]
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        hpa = resources_of("HorizontalPodAutoscaler")[name]["spec"]
        assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert 1 <= hpa["minReplicas"] < hpa["maxReplicas"]
        pdb = resources_of("PodDisruptionBudget")[name]["spec"]
        assert pdb["minAvailable"] < hpa["minReplicas"], f"{name}: the budget would block every drain"
        assert pdb["selector"]["matchLabels"].items() <= pod_labels.items(), name
        service = resources_of("Service")[name]["spec"]
        assert service["selector"].items() <= pod_labels.items(), name


def test_ports_are_the_dev_stack_ports_everywhere() -> None:
    for name, port in PORTS.items():
        (container,) = resources_of("Deployment")[name]["spec"]["template"]["spec"]["containers"]
        assert command_port(container["command"]) == port, name
        assert [p["containerPort"] for p in container["ports"]] == [port], name
        assert [p["port"] for p in resources_of("Service")[name]["spec"]["ports"]] == [port], name
        assert port in dockerfile_ports()
        assert command_port(compose_config()["services"][name]["command"]) == port


def test_the_config_map_and_containers_name_only_settings_the_code_reads() -> None:
    config = resources_of("ConfigMap")["hearth-config"]["data"]
    hearth = {k for k in config if k.startswith("HEARTH_")}
    assert hearth <= SERVICE_SETTINGS | DASHBOARD_SETTINGS, sorted(
        hearth - SERVICE_SETTINGS - DASHBOARD_SETTINGS
    )
    assert config.keys() - hearth <= tracing.VARIABLES
    for setting in ("HEARTH_AUTH_JWKS_URL", "HEARTH_AUTH_ISSUER", "HEARTH_AUTH_AUDIENCE"):
        assert setting in config
    for workload, container in containers():
        named = {e["name"] for e in container.get("env", [])}
        for ref in container.get("env", []):
            key = ref.get("valueFrom", {}).get("configMapKeyRef", {}).get("key")
            if key is not None:
                assert key in config, f"{workload} reads {key}, which the ConfigMap lacks"
        readable = settings_of(container["command"]) | tracing.VARIABLES
        assert {n for n in named if n.startswith(("HEARTH_", "OTEL_"))} <= readable, workload


def test_database_urls_come_from_secret_references_never_the_config_map() -> None:
    assert "HEARTH_DATABASE_URL" not in resources_of("ConfigMap")["hearth-config"]["data"]
    assert not resources_of("Secret"), "secrets are created by the operator, not shipped in manifests"
    for name in ("referral", "eligibility", "billing", "quality"):
        (container,) = resources_of("Deployment")[name]["spec"]["template"]["spec"]["containers"]
        (database,) = [e for e in container["env"] if e["name"] == "HEARTH_DATABASE_URL"]
        assert database["valueFrom"]["secretKeyRef"] == {
            "name": "hearth-database",
            "key": f"{name}-database-url",
        }


def test_the_dashboard_watches_each_service_by_its_kubernetes_name_and_port() -> None:
    watched = parse_services(resources_of("ConfigMap")["hearth-config"]["data"]["HEARTH_DASHBOARD_SERVICES"])
    services = resources_of("Service")
    assert watched.keys() == set(PORTS) - {"dashboard"}
    for name, url in watched.items():
        assert url == f"http://{name}:{services[name]['spec']['ports'][0]['port']}"


def test_the_topics_job_runs_the_same_command_as_compose() -> None:
    (container,) = resources_of("Job")["hearth-topics"]["spec"]["template"]["spec"]["containers"]
    compose = compose_config()["services"]["topics"]["command"]
    assert container["command"][:3] == compose[:3] == ["python", "-m", "hearth_devstack.topics"]
    assert "--bootstrap" in container["command"]
