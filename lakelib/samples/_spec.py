"""What to generate: the period, the volume, the seed and the dirt rates."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from lakelib.errors import ConfigError, ValidationError

SOURCES: tuple[str, ...] = ("sales", "customers", "products")

# A base record gets at most one of these; each makes a correct cleaner quarantine the line.
REJECTING_KINDS: tuple[str, ...] = (
    "null_required",
    "negative_amount",
    "absurd_amount",
    "bad_date",
    "malformed_json",
)
# Valid records may also carry these; the record stays valid.
VALID_KINDS: tuple[str, ...] = ("string_amount", "late_arriving", "unknown_customer")
# Extra lines: copies of valid records that a correct cleaner removes by id.
DUPLICATE_KINDS: tuple[str, ...] = ("exact_duplicate", "corrected_resend")
# Corrected re-sends whose correction also moves the order to another date (a subset).
CORRECTION_KINDS: tuple[str, ...] = ("moved_resend",)
DIRT_KINDS: tuple[str, ...] = DUPLICATE_KINDS + CORRECTION_KINDS + REJECTING_KINDS + VALID_KINDS

DEFAULT_START = dt.date(2026, 1, 1)
DEFAULT_DAYS = 60
DEFAULT_ROWS_PER_DAY = 10_000
DEFAULT_SEED = 42


@dataclass(frozen=True)
class DirtRates:
    """How dirty the generated sales are: one probability per kind of dirt.

    Rates are per base record (one sale). ``exact_duplicate`` and ``corrected_resend`` are
    drawn for valid records only and add a line; the five rejecting kinds are mutually
    exclusive (their sum must not exceed 1); ``string_amount``, ``late_arriving`` and
    ``unknown_customer`` are drawn independently for valid records. A kind that cannot apply
    (a late or re-sent record on the last day) is skipped, so the manifest, not the rate, is
    the count to reconcile against.

    Parameters
    ----------
    exact_duplicate
        The same line again, in the same file or the next one.
    corrected_resend
        The same id with a different amount in a later file (1–3 days later); the later
        line is the truth.
    moved_resend
        Of the corrected re-sends, the fraction whose correction also changes the order's
        date, by 1–3 days either way within the period: the truth moves to another event-date
        partition. 0 by default, so the default data (and the demo's numbers) are those of
        generators before it; drawn from its own random stream, so any rate leaves every
        other line as it was.
    null_required
        One of ``id``, ``date``, ``amount``, ``customer_id``, ``product_id`` is null or missing.
    negative_amount
        ``amount`` below zero.
    absurd_amount
        ``amount`` of a million or more (valid amounts stay below 100,000).
    string_amount
        ``amount`` as a numeric string such as ``"12.50"`` (valid after coercion).
    bad_date
        ``date`` that no parser accepts (``"2026-13-45T25:61:00Z"``, ``"N/A"`` ...).
    malformed_json
        A truncated or garbled line that is not JSON.
    late_arriving
        The event is dated 1–7 days before the file it arrives in.
    unknown_customer
        ``customer_id`` is not in the customers table.
    channel_from
        Fraction of the period after which the optional ``channel`` field appears in the
        files (0: from the first file, 1: never).

    Examples
    --------
    >>> DirtRates(malformed_json=0.05).malformed_json
    0.05
    >>> sum(DirtRates.clean().as_dict().values())
    0.0
    """

    exact_duplicate: float = 0.01
    corrected_resend: float = 0.005
    moved_resend: float = 0.0
    null_required: float = 0.005
    negative_amount: float = 0.003
    absurd_amount: float = 0.001
    string_amount: float = 0.02
    bad_date: float = 0.003
    malformed_json: float = 0.001
    late_arriving: float = 0.02
    unknown_customer: float = 0.005
    channel_from: float = 0.4

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValidationError(f"rate {item.name} must be a number, got {value!r}")
            if not 0.0 <= float(value) <= 1.0:
                raise ValidationError(f"rate {item.name} must be between 0 and 1, got {value!r}")
            object.__setattr__(self, item.name, float(value))
        rejecting = sum(getattr(self, kind) for kind in REJECTING_KINDS)
        if rejecting > 1.0:
            raise ValidationError(
                f"the rejecting rates ({', '.join(REJECTING_KINDS)}) add up to {rejecting:g}; "
                "they are exclusive, so their sum must be at most 1"
            )
        duplicates = self.exact_duplicate + self.corrected_resend
        if duplicates > 1.0:
            raise ValidationError(
                f"exact_duplicate + corrected_resend add up to {duplicates:g}; at most 1"
            )

    @classmethod
    def clean(cls) -> DirtRates:
        """No dirt at all, and ``channel`` present from the first file."""
        return cls(**dict.fromkeys(cls.names(), 0.0))

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The field names: every dirt kind, then ``channel_from``."""
        return tuple(item.name for item in fields(cls))

    def replace(self, **rates: float) -> DirtRates:
        """A copy with some rates changed; an unknown name raises :class:`ValidationError`."""
        unknown = sorted(set(rates) - set(self.names()))
        if unknown:
            raise ValidationError(
                f"unknown dirt kind {', '.join(unknown)} (known: {', '.join(self.names())})"
            )
        return dataclasses.replace(self, **rates)

    def as_dict(self) -> dict[str, float]:
        """``{name: rate}`` for every field, in declaration order."""
        return {name: getattr(self, name) for name in self.names()}


@dataclass(frozen=True)
class GeneratorSpec:
    """The period, volume, seed and dirt of a generated data set.

    The same spec gives the same bytes, on any machine.

    Parameters
    ----------
    start
        First day of the period (the first sales file).
    days
        Number of days, hence of sales files.
    rows_per_day
        Mean number of sales a day (Poisson, with a mild weekly pattern). The customers table
        has ``max(50, 2 * rows_per_day)`` rows and the products table
        ``clip(rows_per_day // 25, 20, 400)``.
    seed
        Seed of every random stream (a non-negative integer).
    rates
        The dirt rates; :meth:`DirtRates.clean` for none.
    """

    start: dt.date = DEFAULT_START
    days: int = DEFAULT_DAYS
    rows_per_day: int = DEFAULT_ROWS_PER_DAY
    seed: int = DEFAULT_SEED
    rates: DirtRates = field(default_factory=DirtRates)

    def __post_init__(self) -> None:
        if isinstance(self.start, dt.datetime) or not isinstance(self.start, dt.date):
            raise ValidationError(f"start must be a date, got {self.start!r}")
        for name, low in (("days", 1), ("rows_per_day", 1), ("seed", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValidationError(f"{name} must be an integer >= {low}, got {value!r}")
        if not isinstance(self.rates, DirtRates):
            raise ValidationError(f"rates must be DirtRates, got {type(self.rates).__name__}")

    @property
    def end(self) -> dt.date:
        """Last day of the period (inclusive)."""
        return self.start + dt.timedelta(days=self.days - 1)

    @classmethod
    def from_config(
        cls, section: Mapping[str, Any], *, rates: DirtRates | None = None, **overrides: Any
    ) -> GeneratorSpec:
        """Build a spec from a ``[generate]`` table; non-``None`` ``overrides`` win.

        Parameters
        ----------
        section
            ``{"seed": 42, "start": "2026-01-01", "days": 60, "rows_per_day": 10000}``; missing
            keys take the built-in defaults, unknown keys are ignored.
        rates
            Dirt rates (default :class:`DirtRates`).
        **overrides
            ``start``, ``days``, ``rows_per_day`` or ``seed``.

        Examples
        --------
        >>> GeneratorSpec.from_config({"days": 7}, seed=1).days
        7
        """
        allowed = {"start", "days", "rows_per_day", "seed"}
        unknown = sorted(set(overrides) - allowed)
        if unknown:
            raise TypeError(f"unexpected override(s): {', '.join(unknown)}")
        values: dict[str, Any] = {k: section[k] for k in allowed if k in section}
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "start" in values:
            values["start"] = _as_date(values["start"])
        for key in ("days", "rows_per_day", "seed"):
            if key in values and (
                isinstance(values[key], bool) or not isinstance(values[key], int)
            ):
                raise ConfigError(f"[generate] {key} must be an integer, got {values[key]!r}")
        return cls(rates=rates if rates is not None else DirtRates(), **values)

    def describe(self) -> dict[str, Any]:
        """The spec as JSON-ready values (for the manifest)."""
        return {
            "seed": self.seed,
            "start": self.start.isoformat(),
            "days": self.days,
            "rows_per_day": self.rows_per_day,
            "rates": self.rates.as_dict(),
        }


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigError(f"[generate] start must be a date (YYYY-MM-DD), got {value!r}")
