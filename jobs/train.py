"""SageMaker script-mode entry point for the churn model (and what `lake train` runs locally).

SageMaker's scikit-learn container runs it as ``train.py`` from the uploaded
``sourcedir.tar.gz`` with ``SM_MODEL_DIR``, ``SM_CHANNEL_TRAIN``, ``SM_CHANNEL_TEST``,
``SM_OUTPUT_DATA_DIR`` set and hyperparameters as ``--name value`` arguments; locally::

    python jobs/train.py --train DIR --test DIR --model-dir DIR --output-data-dir DIR
"""

import sys

from lakelib.ml._script import main

if __name__ == "__main__":
    sys.exit(main())
