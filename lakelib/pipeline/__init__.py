"""The stage graph: the demo today; the daily run and its Step Functions export to come."""

from lakelib.pipeline._demo import DemoReport, run_demo

__all__ = ["DemoReport", "run_demo"]
