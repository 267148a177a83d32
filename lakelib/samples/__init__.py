"""Deterministic, deliberately dirty sample sources for the demo and the tests.

``generate("sales", out, spec)`` writes one source; ``generate_all`` writes the three. The same
:class:`GeneratorSpec` (seed included) gives the same bytes on every run and machine: nothing
depends on the clock, and each source draws from its own random stream of the seed, so sales
written alone equal sales written by ``generate_all``.

>>> from lakelib.samples import GeneratorSpec, DirtRates, generate_all
>>> generate_all("samples", GeneratorSpec(days=3, rows_per_day=200))   # doctest: +SKIP

Layout under ``out``::

    sales/sales_YYYYMMDD.jsonl     one file per arrival day (JSON lines, no gzip)
    customers/customers.csv        customer_id,region,segment,signup_date
    products/products.csv          product_id,category,unit_price
    manifest.json                  {source: entry}; merged, so sources can be written apart

A sales line is ``{"id": "S0000001234", "date": "2026-01-05T13:45:12Z", "amount": 42.5,
"customer_id": "C000042", "product_id": "P0012"}``, plus ``"channel"`` (web, store, mobile)
in every file from ``channel_from_date`` on. ``amount`` is the product's unit price times a
quantity of 1–5; valid amounts are positive and below 100,000. A file holds the lines that
*arrive* that day, so late records carry an earlier ``date``.

The signal: each customer has a lognormal base purchase rate (higher for businesses), a
log-linear drift (some rising, some decaying) and a 30 % chance of churning on a random day
(the rate drops to 2 %); customers who sign up during the period buy only after their
``signup_date``. Each day's sales are drawn with weights proportional to the current rates,
so recency and frequency predict whether a customer buys in the next 30 days.

The dirt (rates in :class:`DirtRates`). Each *base record* (one generated sale) is either
valid or has exactly one rejecting kind: ``null_required``, ``negative_amount``,
``absurd_amount`` (1,000,000 or more), ``bad_date``, ``malformed_json``. A valid record may
also be ``string_amount``, ``late_arriving`` (dated 1–7 days before its file) and
``unknown_customer`` (an id absent from customers.csv). ``exact_duplicate`` (the identical
line again, same or next file) and ``corrected_resend`` (the same id with another amount in
one of the next 3 files; the later line is the truth) add lines for valid records only. A
``moved_resend`` share of the corrected re-sends (0 unless asked for) also corrects the
date, by 1–3 days: the truth moves to another event-date partition.
Exact duplicates are verbatim copies, so one copied from the day before ``channel_from_date``
lacks ``channel``.

Manifest entry of ``sales``:

``seed``, ``start``, ``days``, ``rows_per_day``, ``rates``
    The spec that produced the files.
``files``, ``file_lines``
    Number of sales files (one per day, possibly empty) and ``{"sales/<file>": lines}``.
``lines``
    All lines in all files (rows in).
``base_records``
    Generated sales, one id each (``= valid_unique_ids + rejected``).
``valid_unique_ids``
    Distinct ids a correct cleaner keeps (rows out).
``rejected``
    Lines a correct cleaner quarantines: the sum of the five rejecting kinds (rows
    quarantined). None of them shares an id with a kept line.
``duplicate_lines``
    Extra lines a correct cleaner removes by id: ``exact_duplicate + corrected_resend``
    (duplicates removed). So ``lines = valid_unique_ids + rejected + duplicate_lines``.
``malformed_lines``
    Lines that are not JSON (``= dirt["malformed_json"]``).
``valid_amount_total``
    Sum of ``amount`` over the kept records, re-sends corrected, as an exact decimal string.
``first_date``, ``last_date``
    The first and last file's day (ISO dates).
``channel_from_date``
    Day of the first file whose lines carry ``channel`` (``null``: no file does).
``customers_referenced``
    Distinct known customers with at least one kept sale.
``dirt``
    ``{kind: count}`` for every kind in :data:`DIRT_KINDS`: base records of that kind,
    except ``exact_duplicate`` and ``corrected_resend``, which count extra lines, and
    ``moved_resend``, which counts those re-sends that moved the date.
``moved``
    ``{id: {"from": date, "to": date}}`` for each moved re-send: the kept row is dated
    ``to`` (the date's time of day unchanged).

Entries of ``customers`` and ``products``: ``seed``, ``start``, ``days``, ``rows_per_day``,
``files`` (1), ``rows`` (data rows), ``file_lines`` (rows + header), and
``signups_in_period`` (customers whose ``signup_date`` is inside the period) or
``categories``.
"""

from __future__ import annotations

from lakelib.samples._api import SampleApiServer, make_sample_api
from lakelib.samples._generate import MANIFEST_FILE, generate, generate_all, read_manifest
from lakelib.samples._spec import (
    DIRT_KINDS,
    REJECTING_KINDS,
    SOURCES,
    DirtRates,
    GeneratorSpec,
)

__all__ = [
    "DIRT_KINDS",
    "MANIFEST_FILE",
    "REJECTING_KINDS",
    "SOURCES",
    "DirtRates",
    "GeneratorSpec",
    "SampleApiServer",
    "generate",
    "generate_all",
    "make_sample_api",
    "read_manifest",
]
