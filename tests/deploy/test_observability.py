"""deploy/prometheus and deploy/grafana: every metric and label they query is one the services
export (derived from the prometheus_client objects in hearth_platform.metrics), and Prometheus
scrapes each service where it listens."""

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.metrics import MetricWrapperBase

from hearth_platform import metrics

from .deployment import DEPLOY, PORTS, bind_mounts, compose_config, route_paths

PROMETHEUS = DEPLOY / "prometheus"
GRAFANA = DEPLOY / "grafana"
METRIC = re.compile(r"\b(hearth_[a-z0-9_]+)\b")
GROUPING = re.compile(r"\b(?:by|on|without|ignoring)\s*\(([^)]*)\)")
MATCHER = re.compile(r"\b(hearth_[a-z0-9_]+)\{([^}]*)\}")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exported_series() -> dict[str, set[str]]:
    """Series name -> its labels, for every metric hearth_platform.metrics registers."""
    series: dict[str, set[str]] = {}
    for collector in vars(metrics).values():
        if not isinstance(collector, MetricWrapperBase):
            continue
        labels = set(collector._labelnames)
        for family in collector.describe():
            for suffix in SUFFIXES[family.type]:
                series[family.name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return series


def rule_expressions() -> list[str]:
    exprs = []
    for path in sorted((PROMETHEUS / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            exprs.extend(rule["expr"] for rule in group["rules"])
    return exprs


def dashboard() -> dict[str, Any]:
    return json.loads((GRAFANA / "hearth.json").read_text())


def dashboard_expressions() -> list[str]:
    return [target["expr"] for panel in dashboard()["panels"] for target in panel["targets"]]


def check_expression(expr: str, series: dict[str, set[str]]) -> None:
    names = METRIC.findall(expr)
    assert names, f"queries no Hearth metric: {expr}"
    unknown = [n for n in names if n not in series]
    assert not unknown, f"{unknown} are not exported (expr: {expr})"
    labels = set().union(*(series[n] for n in names))
    for grouping in GROUPING.findall(expr):
        used = {label.strip() for label in grouping.split(",") if label.strip()}
        assert used <= labels, f"labels {sorted(used - labels)} do not exist (expr: {expr})"
    for name, matchers in MATCHER.findall(expr):
        used = {m.split("=")[0].rstrip("!~").strip() for m in matchers.split(",") if m.strip()}
        assert used <= series[name], f"{name} has no label {sorted(used - series[name])}"


def test_the_registry_is_read_from_the_metrics_module() -> None:
    """Guards the checks below: the derived names are the conventional Prometheus series."""
    series = exported_series()
    assert series["hearth_events_produced_total"] == {"service", "topic", "type"}
    assert "le" in series["hearth_handler_duration_seconds_bucket"]
    assert "hearth_outbox_backlog" in series
    assert "hearth_outbox_backlog_total" not in series


def test_recording_and_alert_rules_query_exported_metrics_and_labels() -> None:
    series = exported_series()
    exprs = rule_expressions()
    for expr in exprs:
        check_expression(expr.replace('up{job="hearth"}', "hearth_outbox_backlog"), series)
    queried = {name for expr in exprs for name in METRIC.findall(expr)}
    for required in ("hearth_dead_letters_total", "hearth_consumer_lag", "hearth_outbox_backlog"):
        assert required in queried


def test_each_alert_has_a_summary_and_a_severity() -> None:
    for path in sorted((PROMETHEUS / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                assert ("record" in rule) != ("alert" in rule)
                if "alert" in rule:
                    assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
                    assert rule["annotations"]["summary"], rule["alert"]


def test_grafana_panels_query_exported_metrics_and_labels() -> None:
    series = exported_series()
    exprs = dashboard_expressions()
    for expr in exprs:
        check_expression(expr, series)
    shown = {name.rsplit("_bucket", 1)[0] for expr in exprs for name in METRIC.findall(expr)}
    expected = {
        "hearth_events_produced_total",
        "hearth_events_consumed_total",
        "hearth_handler_duration_seconds",
        "hearth_outbox_backlog",
        "hearth_consumer_lag",
        "hearth_dead_letters_total",
        "hearth_http_requests_total",
        "hearth_http_request_duration_seconds",
    }
    assert expected <= shown, sorted(expected - shown)
    variable = dashboard()["templating"]["list"][0]["query"]["query"]
    check_expression(variable.replace("label_values(", "").replace(", service)", ""), series)


def test_prometheus_scrapes_each_service_at_its_port_and_metrics_route() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    targets = {t for static in job["static_configs"] for t in static["targets"]}
    services = set(PORTS) - {"dashboard"}
    assert targets == {f"{name}:{PORTS[name]}" for name in services}
    compose = compose_config()["services"]
    for name in services:
        assert name in compose
        assert job["metrics_path"] in route_paths(f"hearth_{name}.app")
    assert config["rule_files"] == ["rules/*.yml"]


def test_grafana_provisioning_points_at_the_dashboard_and_its_data_source() -> None:
    (source,) = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())[
        "datasources"
    ]
    uids = {panel["datasource"]["uid"] for panel in dashboard()["panels"]}
    assert uids == {source["uid"]}
    (provider,) = yaml.safe_load((GRAFANA / "provisioning/dashboards/hearth.yml").read_text())["providers"]
    mounts = bind_mounts(compose_config()["services"]["grafana"])
    mounted = {Path(source).name: target for source, target in mounts.items()}
    assert mounted["hearth.json"] == f"{provider['options']['path']}/hearth.json"
    assert source["url"] == "http://prometheus:9090"
