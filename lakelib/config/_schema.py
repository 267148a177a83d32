"""What ``lake.toml`` may contain: every section and key with its type, checked once at load.

Each section is a frozen dataclass; :func:`parse_config` turns the parsed TOML into a
:class:`LakeConfig` or raises one :class:`~lakelib.errors.ConfigError` line naming the file,
the key and what is allowed there (a typo such as ``[etl] tabel = ...`` is no longer ignored).

A key left out is ``None`` here (or empty): the stage that reads it applies its own default,
so a default is written once, beside the code it steers. A new key or section is a field in
one of these classes (the README's "The repository" says where).

Types map to TOML as: ``str`` a string, ``int`` an integer, ``float`` a number (an integer is
fine), ``bool`` a boolean, ``tuple[X, ...]`` an array, ``Mapping[str, X]`` a table of names
the user chooses (``[sources.<name>]``), a dataclass a table with the fixed keys it declares,
``Any`` whatever TOML allows (hyperparameters, range bounds checked by their contract).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

from lakelib.errors import ConfigError


@dataclass(frozen=True)
class Check:
    """A condition on a value beyond its type (``Annotated[int, POSITIVE]``)."""

    test: Any  # Callable[[Any], bool]; Any keeps the dataclass hashable and simple
    what: str


POSITIVE = Check(lambda value: value > 0, "a positive {noun}")
NOT_NEGATIVE = Check(lambda value: value >= 0, "a {noun} >= 0")


def toml_key(name: str) -> Any:
    """A field whose TOML key is not a Python name (``from``)."""
    return field(default=None, metadata={"key": name})


# -- the sections ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkspaceSection:
    default_profile: Literal["local", "aws"] | None = None


@dataclass(frozen=True)
class LocalProfile:
    home: str | None = None


@dataclass(frozen=True)
class AwsProfile:
    region: str | None = None
    stack_outputs: str | None = None


@dataclass(frozen=True)
class ProfilesSection:
    local: LocalProfile = LocalProfile()
    aws: AwsProfile = AwsProfile()


@dataclass(frozen=True)
class CatalogSection:
    database: str | None = None


@dataclass(frozen=True)
class WorkgroupSection:
    description: str | None = None
    bytes_scanned_cutoff: Annotated[int, POSITIVE] | None = None


@dataclass(frozen=True)
class QuerySection:
    max_result_rows: Annotated[int, POSITIVE] | None = None


@dataclass(frozen=True)
class GenerateSection:
    seed: Annotated[int, NOT_NEGATIVE] | None = None
    start: dt.date | str | None = None
    days: Annotated[int, POSITIVE] | None = None
    rows_per_day: Annotated[int, POSITIVE] | None = None


@dataclass(frozen=True)
class SourceSection:
    """A data contract (``lakelib.ingest`` checks names and types of fields against it)."""

    description: str | None = None
    required: tuple[str, ...] = ()
    fields: Mapping[str, str] = field(default_factory=dict)
    ranges: Mapping[str, Mapping[Literal["min", "max"], Any]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertRule:
    name: str | None = None
    metric: str | None = None
    above: float | None = None
    below: float | None = None
    severity: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class AlertsSection:
    rules: tuple[AlertRule, ...] = ()


@dataclass(frozen=True)
class MlSection:
    model_name: str | None = None
    endpoint_name: str | None = None
    min_roc_auc: float | None = None
    image_uri: str | None = None
    role_arn: str | None = None
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EmrSection:
    release_label: str | None = None
    core_count: Annotated[int, POSITIVE] | None = None
    primary_instance_type: str | None = None
    core_instance_type: str | None = None
    wheel: str | None = None
    subnet_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class EtlSection:
    source: str | None = None
    table: str | None = None
    key: str | None = None
    event_time: str | None = None
    amount: str | None = None
    amount_bands: tuple[float, ...] | None = None
    lock_timeout_minutes: Annotated[float, POSITIVE] | None = None
    glue_jobs: Mapping[str, str] = field(default_factory=dict)
    emr: EmrSection = EmrSection()


@dataclass(frozen=True)
class IngestLocation:
    from_: str | None = toml_key("from")


@dataclass(frozen=True)
class PipelineSection:
    train_weekday: Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] | None = None
    notebooks: tuple[str, ...] | None = None
    ingest: Mapping[str, IngestLocation] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportSection:
    currency: str | None = None


@dataclass(frozen=True)
class MonitoringSection:
    metrics_namespace: str | None = None


@dataclass(frozen=True)
class LakeConfig:
    """The whole of ``lake.toml``, typed. Every section is optional."""

    workspace: WorkspaceSection = WorkspaceSection()
    profiles: ProfilesSection = ProfilesSection()
    catalog: CatalogSection = CatalogSection()
    workgroups: Mapping[str, WorkgroupSection] = field(default_factory=dict)
    query: QuerySection = QuerySection()
    generate: GenerateSection = GenerateSection()
    sources: Mapping[str, SourceSection] = field(default_factory=dict)
    alerts: AlertsSection = AlertsSection()
    ml: MlSection = MlSection()
    etl: EtlSection = EtlSection()
    pipeline: PipelineSection = PipelineSection()
    report: ReportSection = ReportSection()
    monitoring: MonitoringSection = MonitoringSection()


# -- checking ----------------------------------------------------------------------------------


def parse_config(document: Mapping[str, Any], source: str | None) -> LakeConfig:
    """Check a parsed ``lake.toml`` against :class:`LakeConfig` and return it typed.

    Raises
    ------
    ConfigError
        one line: ``<file>: unknown key 'etl.tabel' (allowed in [etl]: amount, ...)`` or
        ``<file>: etl.lock_timeout_minutes must be a positive number, got 'soon'``.
    """
    where = source or "lake.toml"
    try:
        config: LakeConfig = _table(LakeConfig, document, ())
    except _Invalid as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return config


class _Invalid(Exception):
    pass


def _name(path: tuple[str, ...]) -> str:
    return ".".join(path)


def _table(cls: type[Any], value: Any, path: tuple[str, ...]) -> Any:
    if not isinstance(value, Mapping):
        raise _Invalid(f"[{_name(path)}] must be a table, got {_shown(value)}")
    hints = get_type_hints(cls, include_extras=True)
    fields = {f.metadata.get("key", f.name): f for f in dataclasses.fields(cls)}
    unknown = [name for name in value if name not in fields]
    if unknown:
        allowed = ", ".join(sorted(fields))
        inside = f" in [{_name(path)}]" if path else ""
        what = "key" if path else "section"
        raise _Invalid(
            f"unknown {what} {_name((*path, str(unknown[0])))!r} (allowed{inside}: {allowed})"
        )
    values = {
        fields[name].name: _value(hints[fields[name].name], item, (*path, name))
        for name, item in value.items()
    }
    return cls(**values)


_WORDS = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
_NOUNS = {int: "integer", float: "number"}


def _value(hint: Any, value: Any, path: tuple[str, ...]) -> Any:
    origin = get_origin(hint)
    if hint is Any:
        return value
    if origin is Annotated:
        inner, *extras = get_args(hint)
        try:
            converted = _value(inner, value, path)
        except _Invalid:
            raise _Invalid(
                f"{_name(path)} must be {_describe(hint)}, got {_shown(value)}"
            ) from None
        for check in extras:
            if isinstance(check, Check) and not check.test(converted):
                raise _Invalid(f"{_name(path)} must be {_describe(hint)}, got {_shown(value)}")
        return converted
    if origin in (Union, types.UnionType):
        options = [arg for arg in get_args(hint) if arg is not type(None)]
        if len(options) == 1:  # ``X | None``: TOML has no null, so this is X's own error
            return _value(options[0], value, path)
        for option in options:
            try:
                return _value(option, value, path)
            except _Invalid:
                continue
        described = " or ".join(_describe(option) for option in options)
        raise _Invalid(f"{_name(path)} must be {described}, got {_shown(value)}")
    if origin is Literal:
        choices = get_args(hint)
        if value not in choices or isinstance(value, bool):
            shown = ", ".join(str(choice) for choice in choices)
            raise _Invalid(f"{_name(path)} must be one of {shown}, got {_shown(value)}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise _Invalid(f"{_name(path)} must be {_describe(hint)}, got {_shown(value)}")
        item = get_args(hint)[0]
        return tuple(_value(item, v, (*path[:-1], f"{path[-1]}[{i}]")) for i, v in enumerate(value))
    if origin is Mapping or origin is dict:
        if not isinstance(value, Mapping):
            raise _Invalid(f"[{_name(path)}] must be a table, got {_shown(value)}")
        names, item = get_args(hint)
        return {
            _value(names, name, path): _value(item, v, (*path, str(name)))
            for name, v in value.items()
        }
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _table(hint, value, path)
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is dt.date:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
    elif isinstance(hint, type) and isinstance(value, hint):
        return value
    raise _Invalid(f"{_name(path)} must be {_describe(hint)}, got {_shown(value)}")


def _describe(hint: Any) -> str:
    origin = get_origin(hint)
    if origin is Annotated:
        inner, *extras = get_args(hint)
        checks = [extra for extra in extras if isinstance(extra, Check)]
        if checks:
            return str(checks[0].what).format(noun=_NOUNS.get(inner, "value"))
        return _describe(inner)
    if origin in (Union, types.UnionType):
        options = [arg for arg in get_args(hint) if arg is not type(None)]
        return " or ".join(_describe(option) for option in options)
    if origin is tuple:
        return f"an array of {_plural(get_args(hint)[0])}"
    if origin is Literal:
        return "one of " + ", ".join(str(choice) for choice in get_args(hint))
    if origin is Mapping or dataclasses.is_dataclass(hint):
        return "a table"
    if hint is dt.date:
        return "a date"
    return _WORDS.get(hint, getattr(hint, "__name__", str(hint)))


def _plural(hint: Any) -> str:
    return {str: "strings", int: "integers", float: "numbers"}.get(hint, "tables")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
