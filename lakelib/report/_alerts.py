"""Threshold alerts: rules from ``lake.toml`` evaluated on a run's metrics.

::

    [[alerts.rules]]
    name = "revenue_drop"
    metric = "revenue_change_dod"     # -0.25 means revenue fell 25 % day over day
    below = -0.20
    severity = "warning"
    message = "revenue changed {value:+.0%} day over day"

A rule fires when the metric is ``below`` or ``above`` its bound (either or both). A rule whose
metric a run did not produce does not fire (and says so in the log). Fired alerts go to an
alerts log in the lake and the console locally, and to the SNS alerts topic as well on AWS.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import orjson

from lakelib.config import Settings, Zone, get_settings
from lakelib.errors import ConfigError
from lakelib.storage import Store, validate_name

log = logging.getLogger(__name__)
SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True)
class AlertRule:
    name: str
    metric: str
    below: float | None = None
    above: float | None = None
    severity: str = "warning"
    message: str = ""

    def check(self, value: float) -> bool:
        return (self.below is not None and value < self.below) or (
            self.above is not None and value > self.above
        )

    def describe(self, value: float) -> str:
        if self.message:
            try:
                return self.message.format(value=value, rule=self)
            except (KeyError, ValueError, IndexError):
                log.warning("alert %s: bad message template %r", self.name, self.message)
        bound = f"below {self.below}" if self.below is not None and value < self.below else ""
        bound = bound or f"above {self.above}"
        return f"{self.metric} = {value:g} is {bound}"


@dataclass(frozen=True)
class Alert:
    rule: str
    severity: str
    metric: str
    value: float
    message: str
    run_date: str
    run_id: str

    def line(self) -> str:
        return f"[{self.severity}] {self.rule}: {self.message} ({self.run_date})"


def load_rules(settings: Settings | None = None) -> list[AlertRule]:
    """The ``[[alerts.rules]]`` of ``lake.toml``, validated."""
    settings = settings or get_settings()
    rules = []
    for index, spec in enumerate(settings.section("alerts").get("rules", [])):
        where = f"alerts.rules[{index}]"
        if not isinstance(spec, Mapping) or "name" not in spec or "metric" not in spec:
            raise ConfigError(f"{where} needs a name and a metric")
        if spec.get("below") is None and spec.get("above") is None:
            raise ConfigError(f"{where} ({spec['name']}) needs a 'below' or an 'above' bound")
        severity = str(spec.get("severity", "warning"))
        if severity not in SEVERITIES:
            raise ConfigError(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
        try:
            below = None if spec.get("below") is None else float(spec["below"])
            above = None if spec.get("above") is None else float(spec["above"])
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: bounds must be numbers") from None
        rules.append(
            AlertRule(
                validate_name(str(spec["name"]), "alert"),
                str(spec["metric"]),
                below,
                above,
                severity,
                str(spec.get("message", "")),
            )
        )
    return rules


def evaluate(
    rules: Iterable[AlertRule], metrics: Mapping[str, Any], *, run_date: str, run_id: str
) -> list[Alert]:
    """The alerts that ``metrics`` fire."""
    fired = []
    for rule in rules:
        value = metrics.get(rule.metric)
        if value is None or isinstance(value, bool) or not isinstance(value, int | float):
            log.debug("alert %s: no numeric metric %s in this run", rule.name, rule.metric)
            continue
        if rule.check(float(value)):
            fired.append(
                Alert(
                    rule.name,
                    rule.severity,
                    rule.metric,
                    float(value),
                    rule.describe(float(value)),
                    run_date,
                    run_id,
                )
            )
    return fired


class AlertSink(Protocol):
    def send(self, alerts: Sequence[Alert]) -> None: ...


class AlertLog:
    """Alerts as JSON documents in the lake: ``alerts/<run_date>/<run_id>-<rule>.json``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def send(self, alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            key = f"alerts/{alert.run_date}/{alert.run_id}-{alert.rule}.json"
            self.store.write_bytes(key, orjson.dumps(asdict(alert)))

    def recent(self, limit: int = 20) -> list[Alert]:
        keys = sorted((i.key for i in self.store.list("alerts/")), reverse=True)[:limit]
        return [Alert(**orjson.loads(self.store.read_bytes(key))) for key in keys]


class SnsAlerts:
    """Publishes each alert to the SNS alerts topic (subscribers get email / SMS / chat)."""

    def __init__(self, topic_arn: str, client: Any = None) -> None:
        self.topic_arn = topic_arn
        self._client = client

    def send(self, alerts: Sequence[Alert]) -> None:
        if not alerts:
            return
        if self._client is None:
            from lakelib.aws import client

            self._client = client("sns")
        for alert in alerts:
            self._client.publish(
                TopicArn=self.topic_arn,
                Subject=f"lakelib {alert.severity}: {alert.rule}"[:100],
                Message=orjson.dumps(asdict(alert), option=orjson.OPT_INDENT_2).decode(),
                MessageAttributes={
                    "severity": {"DataType": "String", "StringValue": alert.severity},
                    "rule": {"DataType": "String", "StringValue": alert.rule},
                },
            )


def alert_sinks(settings: Settings | None = None) -> list[AlertSink]:
    """Where alerts go for this profile: the lake's log, plus SNS when a topic is known."""
    settings = settings or get_settings()
    sinks: list[AlertSink] = [AlertLog(settings.store(Zone.RUNS))]
    topic = settings.outputs.get("alerts_topic_arn")
    if not settings.is_local and topic:
        sinks.append(SnsAlerts(topic))
    return sinks
