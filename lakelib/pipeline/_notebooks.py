"""Run the workspace's notebooks with papermill into ``runs/<date>/`` (outputs kept)."""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lakelib.config import Settings, Zone, get_settings
from lakelib.errors import ConfigError, LakeError

log = logging.getLogger(__name__)


class NotebookError(LakeError):
    """A notebook failed; the message names the notebook, the cell and the error."""


def notebook_folder(settings: Settings) -> Path:
    return settings.project_root / "notebooks"


def run_notebooks(
    names: Sequence[str],
    run_date: dt.date,
    *,
    settings: Settings | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> list[str]:
    """Execute ``notebooks/<name>.ipynb`` in order with papermill; return the output keys.

    Every notebook gets ``profile`` and ``run_date`` (ISO text) and those ``parameters`` it
    declares in its ``parameters`` cell. The executed copy, outputs included, is written
    atomically to ``runs/<run_date>/<name>.ipynb``; a failing notebook stops the list with a
    :class:`NotebookError`, and its partial copy is still kept for inspection.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    settings = settings or get_settings()
    folder = notebook_folder(settings)
    store = settings.store(Zone.RUNS)
    values = {"profile": settings.profile, "run_date": run_date.isoformat(), **(parameters or {})}
    written = []
    for name in names:
        source = folder / f"{name}.ipynb"
        if not source.is_file():
            raise ConfigError(f"no notebook {source}")
        key = f"{run_date.isoformat()}/{name}.ipynb"
        declared = pm.inspect_notebook(str(source))
        given = {k: v for k, v in values.items() if k in declared}
        with tempfile.TemporaryDirectory(prefix="lake-nb-") as scratch:
            output = Path(scratch) / f"{name}.ipynb"
            log.info("running %s", source.name)
            try:
                pm.execute_notebook(
                    str(source),
                    str(output),
                    parameters=given,
                    kernel_name="python3",
                    cwd=str(folder),
                    progress_bar=False,
                    log_output=False,
                    # The kernel's start-up notices (e.g. "running over TCP without
                    # encryption": it listens on 127.0.0.1 only) are not the run's news.
                    extra_arguments=["--log-level=ERROR"],
                )
            except PapermillExecutionError as exc:
                if output.exists():
                    store.write_bytes(key, output.read_bytes())
                raise NotebookError(
                    f"notebook {name} failed in cell {exc.exec_count}: {exc.ename}: "
                    f"{str(exc.evalue).splitlines()[0] if exc.evalue else ''}"
                ) from exc
            store.write_bytes(key, output.read_bytes())
        written.append(key)
    return written
