"""Curated, analytics-ready tables from ``sales_clean``: pure DataFrame -> DataFrame.

Every figure is computed "as of" the last event date in the data, never the clock, so the
same input gives the same table on every run. Every figure is also a function of the set of
rows alone, never of the order Spark happens to see them in (sums are exact decimals, ties
are broken by value), so recomputing some keys from their rows gives the very bytes a full
recompute gives: what the incremental ``curate`` relies on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakelib.etl._transforms import date_partition

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame


# The columns of sales_clean the curated tables read.
INPUT_COLUMNS = (
    "customer_id",
    "product_id",
    "event_date",
    "amount",
    "channel",
    "category",
    "unit_price",
    "product_known",
    "region",
    "segment",
    "signup_date",
    "customer_known",
)

# customer_aggregates' columns; the last three depend on the whole table's as_of date.
CUSTOMER_COLUMNS = (
    "customer_id",
    "region",
    "segment",
    "customer_known",
    "signup_date",
    "first_purchase",
    "last_purchase",
    "as_of",
    "recency_days",
    "frequency",
    "active_days",
    "monetary",
    "avg_order_value",
    "max_order_value",
    "distinct_products",
    "tenure_days",
    "favourite_category",
    "favourite_channel",
)
AS_OF_COLUMNS = ("as_of", "recency_days", "tenure_days")

# product_performance's columns; the last two depend on the other products of the category.
PRODUCT_COLUMNS = (
    "product_id",
    "category",
    "unit_price",
    "product_known",
    "orders",
    "units",
    "revenue",
    "customers",
    "first_sold",
    "last_sold",
    "category_revenue_share",
    "category_rank",
)
RANK_COLUMNS = ("category_revenue_share", "category_rank")


def _distinct(column: str) -> Column:
    """How many distinct non-null values of ``column`` a group has.

    ``size(collect_set(...))`` rather than ``countDistinct``: beside other aggregates, each
    ``countDistinct`` makes Spark copy every input row once more (an ``Expand``) before the
    shuffle; a group here holds at most a few thousand values.
    """
    from pyspark.sql import functions as F

    return F.size(F.collect_set(column)).cast("bigint")


def _exact(column: str | Column) -> Column:
    from pyspark.sql import functions as F

    return (F.col(column) if isinstance(column, str) else column).cast("decimal(38,6)")


def _money(total: str, column: str = "amount") -> Column:
    """``sum`` or ``avg`` of an amount, rounded to cents, as a double.

    Summed as decimals: exact, so the result does not depend on the order Spark happens to
    add the rows in (a double sum of 72.055 could round to 72.05 in one plan and 72.06 in
    another); halves round up.
    """
    from pyspark.sql import functions as F

    exact = _exact(column)
    value = F.sum(exact) if total == "sum" else F.avg(exact)
    return F.round(value, 2).cast("double")


def _latest(column: str, known: str) -> Column:
    """The value of ``column`` on the group's latest row, rows with known reference data
    first, ties by the largest value: one answer for one set of rows, whatever their order
    (``first(..., ignorenulls=True)`` answered with whichever row came first)."""
    from pyspark.sql import functions as F

    picked = F.max(
        F.when(
            F.col(column).isNotNull(),
            F.struct(
                F.col(known).alias("k"), F.col("event_date").alias("d"), F.col(column).alias("v")
            ),
        )
    )
    return picked.getField("v")


def as_of_date(sales: DataFrame) -> DataFrame:
    """The data's last event date (a one-row frame ``as_of``)."""
    from pyspark.sql import functions as F

    return sales.select(F.max("event_date").alias("as_of"))


def customer_rows(sales: DataFrame) -> DataFrame:
    """Per customer, every column of :func:`customer_aggregates` but the ``as_of`` ones:
    each a function of that customer's rows only."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    by_category = sales.groupBy("customer_id", "category").agg(
        F.sum(_exact("amount")).alias("_revenue"), F.count(F.lit(1)).alias("_orders")
    )
    rank = Window.partitionBy("customer_id").orderBy(
        F.col("_revenue").desc(), F.col("_orders").desc(), F.col("category")
    )
    favourite = (
        by_category.withColumn("_r", F.row_number().over(rank))
        .where(F.col("_r") == 1)
        .select("customer_id", F.col("category").alias("favourite_category"))
    )
    channel_counts = (
        sales.where(F.col("channel").isNotNull()).groupBy("customer_id", "channel").count()
    )
    channel_rank = Window.partitionBy("customer_id").orderBy(
        F.col("count").desc(), F.col("channel")
    )
    favourite_channel = (
        channel_counts.withColumn("_r", F.row_number().over(channel_rank))
        .where(F.col("_r") == 1)
        .select("customer_id", F.col("channel").alias("favourite_channel"))
    )
    base = sales.groupBy("customer_id").agg(
        _latest("region", "customer_known").alias("region"),
        _latest("segment", "customer_known").alias("segment"),
        F.max("customer_known").alias("customer_known"),
        F.min("signup_date").alias("signup_date"),
        F.min("event_date").alias("first_purchase"),
        F.max("event_date").alias("last_purchase"),
        F.count(F.lit(1)).alias("frequency"),
        _distinct("event_date").alias("active_days"),
        _money("sum").alias("monetary"),
        _money("avg").alias("avg_order_value"),
        F.max("amount").alias("max_order_value"),
        _distinct("product_id").alias("distinct_products"),
    )
    return base.join(favourite, "customer_id", "left").join(
        favourite_channel, "customer_id", "left"
    )


def with_as_of(customers: DataFrame, as_of: DataFrame) -> DataFrame:
    """:func:`customer_rows` (or stored aggregates) with ``as_of`` (a one-row frame) and the
    columns counted to it; in the table's column order, sorted by customer."""
    from pyspark.sql import functions as F

    out = (
        customers.drop(*AS_OF_COLUMNS)
        .crossJoin(F.broadcast(as_of))
        .withColumn("recency_days", F.datediff("as_of", "last_purchase"))
        .withColumn(
            "tenure_days",
            F.datediff("as_of", F.coalesce(F.col("signup_date"), F.col("first_purchase"))),
        )
    )
    return out.select(*CUSTOMER_COLUMNS).orderBy("customer_id")


def customer_aggregates(sales: DataFrame) -> DataFrame:
    """Per customer: recency, frequency, monetary value, tenure, favourite category, ...

    Columns: ``customer_id, region, segment, customer_known, first_purchase, last_purchase,
    as_of, recency_days, frequency, active_days, monetary, avg_order_value, max_order_value,
    distinct_products, tenure_days, favourite_category, favourite_channel``.
    ``recency_days`` counts days from the last purchase to ``as_of`` (the data's last event
    date); ``tenure_days`` from ``signup_date`` (or the first purchase when unknown) to
    ``as_of``; the favourite category is the one with most revenue (ties: most orders, then
    by name); ``region`` and ``segment`` are those of the latest purchase (known customer
    data first).
    """
    return with_as_of(customer_rows(sales), as_of_date(sales))


def daily_sales(sales: DataFrame) -> DataFrame:
    """Event date x region x category: orders, customers, revenue, average order value.

    Partitioned like ``sales_clean`` (``year``/``month``/``day`` strings).
    """
    from pyspark.sql import functions as F

    return (
        sales.groupBy("event_date", "region", "category")
        .agg(
            F.count(F.lit(1)).alias("orders"),
            _distinct("customer_id").alias("customers"),
            _money("sum").alias("revenue"),
            _money("avg").alias("avg_order_value"),
            F.sum(F.when(~F.col("customer_known"), 1).otherwise(0)).alias(
                "unknown_customer_orders"
            ),
        )
        .withColumns(date_partition(F.col("event_date")))
    )


def product_rows(sales: DataFrame) -> DataFrame:
    """Per product, every column of :func:`product_performance` but the category ranks:
    each a function of that product's rows only."""
    from pyspark.sql import functions as F

    # Each row's units as an exact decimal (the division rounded once, per row), so the sum
    # does not depend on the order of the rows.
    units = (_exact("amount") / _exact("unit_price")).cast("decimal(38,6)")
    return sales.groupBy("product_id").agg(
        _latest("category", "product_known").alias("category"),
        F.max("unit_price").alias("unit_price"),
        F.max("product_known").alias("product_known"),
        F.count(F.lit(1)).alias("orders"),
        F.round(F.sum(units), 0).cast("bigint").alias("units"),
        _money("sum").alias("revenue"),
        _distinct("customer_id").alias("customers"),
        F.min("event_date").alias("first_sold"),
        F.max("event_date").alias("last_sold"),
    )


def rank_products(products: DataFrame) -> DataFrame:
    """:func:`product_rows` (or stored rows) with each product's share of its category's
    revenue and its rank there; in the table's column order, sorted by product."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    category = Window.partitionBy("category")
    ranked = Window.partitionBy("category").orderBy(F.col("revenue").desc(), F.col("product_id"))
    # Revenues are cents: as decimals the category total is exact in any order.
    cents = F.col("revenue").cast("decimal(38,2)")
    share = F.round(cents / F.sum(cents).over(category), 6).cast("double")
    return (
        products.drop(*RANK_COLUMNS)
        .withColumn("category_revenue_share", share)
        .withColumn("category_rank", F.row_number().over(ranked))
        .select(*PRODUCT_COLUMNS)
        .orderBy("product_id")
    )


def product_performance(sales: DataFrame) -> DataFrame:
    """Per product: orders, units, revenue, customers, first/last sale, rank in category.

    ``units`` estimates quantity as ``amount / unit_price`` (null for unknown products);
    ``category_revenue_share`` is the product's share of its category's revenue and
    ``category_rank`` its revenue rank there (1 = best seller).
    """
    return rank_products(product_rows(sales))
