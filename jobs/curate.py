"""Spark job ``curate``: thin entry point; the work is in :mod:`lakelib.etl`.

Runs unchanged under ``spark-submit jobs/curate.py --JOB_NAME curate [--lake_home PATH]``,
as a Glue 5 job (lakelib installed with ``--additional-python-modules``) and as an EMR
step (``lake etl --engine emr``). See :mod:`lakelib.etl._entry` for the arguments.
"""

import sys

from lakelib.etl._entry import main

if __name__ == "__main__":
    sys.exit(main("curate"))
