#!/bin/bash
# EMR bootstrap action of a transient lakelib ETL cluster: install the lakelib wheel
# (first argument, an s3:// URI) on every node, so `spark-submit jobs/<job>.py` finds it.
set -euo pipefail
wheel="${1:?usage: emr_bootstrap.sh s3://bucket/jobs/lib/lakelib-<version>.whl}"
local_wheel="/tmp/$(basename "$wheel")"
aws s3 cp "$wheel" "$local_wheel"
sudo python3 -m pip install --quiet "$local_wheel"
