"""The stage graph: the daily run (local runner, papermill notebooks, Step Functions export)
and the demo.

>>> from lakelib.pipeline import daily_pipeline, run_pipeline
>>> record = run_pipeline(daily_pipeline(), date(2026, 3, 1))     # doctest: +SKIP
>>> [(s.name, s.status) for s in record.stages]                   # doctest: +SKIP
"""

from lakelib.pipeline._daily import (
    PIPELINE,
    daily_pipeline,
    ingest_locations,
    report_path,
    run_stage,
)
from lakelib.pipeline._demo import DemoReport, run_demo
from lakelib.pipeline._notebooks import NotebookError, run_notebooks
from lakelib.pipeline._runner import (
    Pipeline,
    PipelineError,
    SkipStage,
    Stage,
    StageContext,
    run_pipeline,
)
from lakelib.pipeline._stepfunctions import export_state_machine, to_state_machine

__all__ = [
    "PIPELINE",
    "DemoReport",
    "NotebookError",
    "Pipeline",
    "PipelineError",
    "SkipStage",
    "Stage",
    "StageContext",
    "daily_pipeline",
    "export_state_machine",
    "ingest_locations",
    "report_path",
    "run_demo",
    "run_notebooks",
    "run_pipeline",
    "run_stage",
    "to_state_machine",
]
