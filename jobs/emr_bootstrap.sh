#!/bin/bash
# EMR bootstrap action: install lakelib on every node, for Python 3.11, with no package index.
#
#   emr_bootstrap.sh s3://<scripts>/jobs/lib/lakelib-<v>-emr7.zip [more .zip or .whl URIs]
#
# EMR 7's `python3` is 3.9; lakelib needs 3.11, which EMR 7 installs as `python3.11` (the
# cluster's spark-env / spark-defaults classifications point PYSPARK_PYTHON at it). The
# private subnets have no NAT, so pip installs only from the wheels given here: the EMR
# wheelhouse zip (lakelib and its whole closure, built by infra/pulumi/build_artifacts.py)
# and/or single wheels. Given only a wheel, the wheelhouse zips next to it are fetched too.
set -euo pipefail

PYTHON="${LAKE_EMR_PYTHON:-/usr/bin/python3.11}"

if [ "$#" -eq 0 ]; then
  echo "usage: emr_bootstrap.sh s3://bucket/jobs/lib/lakelib-<version>-emr7.zip [...]" >&2
  exit 2
fi
if [ ! -x "$PYTHON" ]; then
  echo "emr_bootstrap: $PYTHON not found (EMR 7 ships python3.11; lakelib needs 3.11)" >&2
  exit 1
fi

wheelhouse="$(mktemp -d /tmp/lakelib-wheelhouse.XXXXXX)"
have_zip=false
for uri in "$@"; do
  case "$uri" in
    s3://*.zip)
      aws s3 cp --only-show-errors "$uri" "$wheelhouse/$(basename "$uri")"
      have_zip=true
      ;;
    s3://*.whl)
      aws s3 cp --only-show-errors "$uri" "$wheelhouse/$(basename "$uri")"
      ;;
    *)
      echo "emr_bootstrap: not an s3:// wheel or wheelhouse zip: $uri" >&2
      exit 2
      ;;
  esac
done
if [ "$have_zip" = false ]; then
  # Only a wheel was named (e.g. by `lake etl --engine emr --transient`): its folder holds
  # the wheelhouse zips Pulumi uploads.
  folder="$(dirname "$1")/"
  aws s3 cp --only-show-errors --recursive --exclude "*" --include "*-emr7.zip" \
    "$folder" "$wheelhouse/"
fi
for archive in "$wheelhouse"/*.zip; do
  [ -e "$archive" ] || continue
  # Zips hold wheels/<name>.whl (+ requirements.txt); flatten them into one folder.
  "$PYTHON" -m zipfile -e "$archive" "$wheelhouse/unpacked"
  find "$wheelhouse/unpacked" -name '*.whl' -exec mv -f {} "$wheelhouse/" \;
  rm -rf "$wheelhouse/unpacked"
done

# AL2023's python3.11 may come without pip: run pip from its wheel (in the wheelhouse).
pip=("$PYTHON" -m pip)
if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
  pip_wheel="$(find "$wheelhouse" -maxdepth 1 -name 'pip-*.whl' | head -n 1)"
  if [ -z "$pip_wheel" ]; then
    echo "emr_bootstrap: $PYTHON has no pip and the wheelhouse no pip wheel" >&2
    exit 1
  fi
  pip=("$PYTHON" "$pip_wheel/pip")
fi
sudo "${pip[@]}" install --quiet --no-index --find-links "$wheelhouse" "lakelib[aws]"
"$PYTHON" -c 'import lakelib, sys; print("lakelib", lakelib.__file__, "on", sys.version.split()[0])'
