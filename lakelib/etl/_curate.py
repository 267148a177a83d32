"""Curated, analytics-ready tables from ``sales_clean``: pure DataFrame -> DataFrame.

Every figure is computed "as of" the last event date in the data, never the clock, so the
same input gives the same table on every run.
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


def _distinct(column: str) -> Column:
    """How many distinct non-null values of ``column`` a group has.

    ``size(collect_set(...))`` rather than ``countDistinct``: beside other aggregates, each
    ``countDistinct`` makes Spark copy every input row once more (an ``Expand``) before the
    shuffle; a group here holds at most a few thousand values.
    """
    from pyspark.sql import functions as F

    return F.size(F.collect_set(column)).cast("bigint")


def _money(total: str, column: str = "amount") -> Column:
    """``sum`` or ``avg`` of an amount, rounded to cents, as a double.

    Summed as decimals: exact, so the result does not depend on the order Spark happens to
    add the rows in (a double sum of 72.055 could round to 72.05 in one plan and 72.06 in
    another); halves round up.
    """
    from pyspark.sql import functions as F

    exact = F.col(column).cast("decimal(38,6)")
    value = F.sum(exact) if total == "sum" else F.avg(exact)
    return F.round(value, 2).cast("double")


def _as_of(sales: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    return sales.select(F.max("event_date").alias("as_of"))


def customer_aggregates(sales: DataFrame) -> DataFrame:
    """Per customer: recency, frequency, monetary value, tenure, favourite category, ...

    Columns: ``customer_id, region, segment, customer_known, first_purchase, last_purchase,
    as_of, recency_days, frequency, active_days, monetary, avg_order_value, max_order_value,
    distinct_products, tenure_days, favourite_category, favourite_channel``.
    ``recency_days`` counts days from the last purchase to ``as_of`` (the data's last event
    date); ``tenure_days`` from ``signup_date`` (or the first purchase when unknown) to
    ``as_of``; the favourite category is the one with most revenue (ties: by name).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    by_category = sales.groupBy("customer_id", "category").agg(
        F.sum("amount").alias("_revenue"), F.count(F.lit(1)).alias("_orders")
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
        F.first("region", ignorenulls=True).alias("region"),
        F.first("segment", ignorenulls=True).alias("segment"),
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
    out = (
        base.crossJoin(F.broadcast(_as_of(sales)))
        .join(favourite, "customer_id", "left")
        .join(favourite_channel, "customer_id", "left")
        .withColumn("recency_days", F.datediff("as_of", "last_purchase"))
        .withColumn(
            "tenure_days",
            F.datediff("as_of", F.coalesce(F.col("signup_date"), F.col("first_purchase"))),
        )
    )
    return out.select(
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
    ).orderBy("customer_id")


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


def product_performance(sales: DataFrame) -> DataFrame:
    """Per product: orders, units, revenue, customers, first/last sale, rank in category.

    ``units`` estimates quantity as ``amount / unit_price`` (null for unknown products);
    ``category_revenue_share`` is the product's share of its category's revenue and
    ``category_rank`` its revenue rank there (1 = best seller).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    per_product = sales.groupBy("product_id").agg(
        F.first("category", ignorenulls=True).alias("category"),
        F.max("unit_price").alias("unit_price"),
        F.max("product_known").alias("product_known"),
        F.count(F.lit(1)).alias("orders"),
        F.round(F.sum(F.col("amount") / F.col("unit_price")), 0).cast("bigint").alias("units"),
        _money("sum").alias("revenue"),
        _distinct("customer_id").alias("customers"),
        F.min("event_date").alias("first_sold"),
        F.max("event_date").alias("last_sold"),
    )
    category = Window.partitionBy("category")
    ranked = Window.partitionBy("category").orderBy(F.col("revenue").desc(), F.col("product_id"))
    return (
        per_product.withColumn(
            "category_revenue_share",
            F.round(F.col("revenue") / F.sum("revenue").over(category), 6),
        )
        .withColumn("category_rank", F.row_number().over(ranked))
        .orderBy("product_id")
    )


CURATED_TABLES = ("customer_aggregates", "daily_sales", "product_performance")
