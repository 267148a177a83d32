"""Reference data: the customers (with their hidden purchase behaviour) and the products.

Both tables, and each customer's purchase rate over time, are pure functions of the spec, so
``generate sales`` alone sees exactly the customers that ``generate customers`` writes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from lakelib.samples._spec import GeneratorSpec

# Independent random streams, one per concern: changing how one is drawn never shifts another.
# "moves" is its own stream so that drawing it never changes the bytes of the others.
STREAMS = {"customers": 1, "products": 2, "behaviour": 3, "sales": 4, "moves": 5}

REGIONS = ("north", "south", "east", "west", "central")
REGION_WEIGHTS = (0.22, 0.2, 0.2, 0.23, 0.15)
SEGMENTS = ("consumer", "small_business", "corporate")
SEGMENT_WEIGHTS = (0.7, 0.2, 0.1)
# Businesses buy more often than consumers.
SEGMENT_RATE = (1.0, 1.6, 2.5)
CATEGORIES = ("electronics", "home", "garden", "toys", "grocery", "apparel", "sports", "books")
# Median unit price per category, in currency units.
CATEGORY_PRICE = (120.0, 40.0, 30.0, 20.0, 6.0, 35.0, 45.0, 15.0)
MIN_PRICE_CENTS = 50
MAX_PRICE_CENTS = 150_000

SIGNUP_IN_PERIOD = 0.15  # share of customers who sign up during the period
CHURN_SHARE = 0.3  # share of customers whose purchase rate collapses on a random day
CHURN_FACTOR = 0.02  # what is left of a churned customer's rate
DRIFT_SD = 0.6  # log-rate drift per 30 days, standard deviation across customers
BASE_RATE_SIGMA = 1.0  # lognormal spread of the base rates


def stream(spec: GeneratorSpec, name: str) -> np.random.Generator:
    """The random generator of one named stream of ``spec.seed``."""
    return np.random.default_rng([spec.seed, STREAMS[name]])


def customer_count(spec: GeneratorSpec) -> int:
    return max(50, 2 * spec.rows_per_day)


def product_count(spec: GeneratorSpec) -> int:
    return int(np.clip(spec.rows_per_day // 25, 20, 400))


def id_width(count: int, minimum: int) -> int:
    return max(minimum, len(str(count)))


@dataclass(frozen=True)
class Customers:
    """The customers table plus each customer's (unpublished) purchase behaviour.

    ``signup_day`` and ``churn_day`` are day indexes relative to ``spec.start`` (negative: before
    the period; ``churn_day`` is ``inf`` for customers who never churn). A customer can buy on
    day ``d`` only if ``d > signup_day``.
    """

    ids: list[str]
    region: np.ndarray
    segment: np.ndarray
    signup_day: np.ndarray
    base_rate: np.ndarray
    drift: np.ndarray
    churn_day: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def rate(self, day: int) -> np.ndarray:
        """Every customer's relative purchase rate λ_c on day index ``day``."""
        lam = self.base_rate * np.exp(self.drift * (day / 30.0))
        lam = np.where(day >= self.churn_day, lam * CHURN_FACTOR, lam)
        return np.where(day > self.signup_day, lam, 0.0)


@dataclass(frozen=True)
class Products:
    """The products table and how popular each product is."""

    ids: list[str]
    category: np.ndarray
    price_cents: np.ndarray
    popularity: np.ndarray  # sums to 1


def build_customers(spec: GeneratorSpec) -> Customers:
    """The customers of ``spec``: ``max(50, 2 * rows_per_day)`` of them."""
    n = customer_count(spec)
    width = id_width(n, 6)
    table_rng = stream(spec, "customers")
    region = table_rng.choice(len(REGIONS), size=n, p=REGION_WEIGHTS)
    segment = table_rng.choice(len(SEGMENTS), size=n, p=SEGMENT_WEIGHTS)
    in_period = table_rng.random(n) < SIGNUP_IN_PERIOD
    before = -table_rng.integers(1, 3 * 365, size=n, endpoint=True)
    during = table_rng.integers(0, spec.days, size=n)
    signup_day = np.where(in_period, during, before).astype(np.int64)

    behaviour = stream(spec, "behaviour")
    base_rate = behaviour.lognormal(0.0, BASE_RATE_SIGMA, size=n) * np.take(SEGMENT_RATE, segment)
    drift = behaviour.normal(0.0, DRIFT_SD, size=n)
    churns = behaviour.random(n) < CHURN_SHARE
    first_active = np.maximum(signup_day + 1, 0)
    span = np.maximum(spec.days - first_active, 1)
    churn_at = first_active + np.floor(behaviour.random(n) * span)
    churn_day = np.where(churns, churn_at, np.inf)
    return Customers(
        ids=[f"C{i:0{width}d}" for i in range(1, n + 1)],
        region=region,
        segment=segment,
        signup_day=signup_day,
        base_rate=base_rate,
        drift=drift,
        churn_day=churn_day,
    )


def build_products(spec: GeneratorSpec) -> Products:
    """The products of ``spec``: ``clip(rows_per_day // 25, 20, 400)`` of them."""
    n = product_count(spec)
    width = id_width(n, 4)
    rng = stream(spec, "products")
    category = rng.integers(0, len(CATEGORIES), size=n)
    median = np.log(np.take(CATEGORY_PRICE, category))
    price = rng.lognormal(median, 0.6) * 100
    price_cents = np.clip(np.rint(price), MIN_PRICE_CENTS, MAX_PRICE_CENTS).astype(np.int64)
    # A long tail of popularity: a few best sellers, many slow movers.
    weights = 1.0 / (rng.permutation(n) + 5.0) ** 0.9
    return Products(
        ids=[f"P{i:0{width}d}" for i in range(1, n + 1)],
        category=category,
        price_cents=price_cents,
        popularity=weights / weights.sum(),
    )


def cents_text(cents: int) -> str:
    """``1250`` -> ``'12.50'`` (exact, no float rounding)."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(int(cents)), 100)
    return f"{sign}{whole}.{part:02d}"


def customers_csv(customers: Customers, start: dt.date) -> bytes:
    """``customer_id,region,segment,signup_date`` with a header row."""
    lines = ["customer_id,region,segment,signup_date"]
    for cid, region, segment, signup in zip(
        customers.ids,
        customers.region.tolist(),
        customers.segment.tolist(),
        customers.signup_day.tolist(),
        strict=True,
    ):
        day = start + dt.timedelta(days=signup)
        lines.append(f"{cid},{REGIONS[region]},{SEGMENTS[segment]},{day.isoformat()}")
    return ("\n".join(lines) + "\n").encode()


def products_csv(products: Products) -> bytes:
    """``product_id,category,unit_price`` with a header row."""
    lines = ["product_id,category,unit_price"]
    for pid, category, cents in zip(
        products.ids, products.category.tolist(), products.price_cents.tolist(), strict=True
    ):
        lines.append(f"{pid},{CATEGORIES[category]},{cents_text(cents)}")
    return ("\n".join(lines) + "\n").encode()
