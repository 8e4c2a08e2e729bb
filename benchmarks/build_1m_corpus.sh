#!/usr/bin/env bash
# A pool of >= 1,000,000 distinct real functions for CoSHC at scale (issue 13), from the
# registries a fresh machine reaches. Documented functions (CodeSearchNet's filters) are the
# queries' side; every other parsable function is a distractor (its docstring dropped, so it
# is never a query). Split train/valid/test by project over both, so held-out queries come
# only from documented functions of held-out projects.
#
#   bash benchmarks/build_1m_corpus.sh [OUT_DIR]      # default /work/data/pool1m
#
# Writes OUT_DIR/documented/*.jsonl.gz, OUT_DIR/all/*.jsonl.gz, OUT_DIR/extra/*.jsonl.gz and
# OUT_DIR/corpus.jsonl.gz.
# Downloads are cached ($SEEKCODE_CACHE or ~/.cache/seekcode): a re-run reads the cache.
set -euo pipefail
OUT=${1:-/work/data/pool1m}
HERE=$(cd "$(dirname "$0")/.." && pwd)
SEEKCODE=${SEEKCODE:-$HERE/.venv/bin/seekcode}
PYTHON=${PYTHON:-$HERE/.venv/bin/python}
SITE=${SITE_PACKAGES:-/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages}
# Big Python projects beyond the multilang script's, read from PyPI sdists.
EXTRA_PY=(pypi:numpy pypi:scipy pypi:sympy pypi:pandas pypi:scikit-learn pypi:matplotlib
  pypi:astropy pypi:sqlglot pypi:pygments pypi:twisted pypi:tornado pypi:boto3 pypi:botocore)
# More real code, read only as distractors (every function, docstrings dropped): the six
# languages' sources above give ~480K distinct functions, short of 1M; with these, 1.0M.
EXTRA_SOURCES=(
  "pypi:django pypi:sqlalchemy pypi:ansible pypi:ansible-core pypi:salt pypi:transformers
   pypi:homeassistant pypi:sphinx pypi:networkx pypi:nltk pypi:statsmodels pypi:dask pypi:xarray
   pypi:moto pypi:pylint pypi:mypy pypi:pip pypi:setuptools pypi:ipython pypi:nova pypi:neutron
   pypi:cinder"
  "$HERE/.venv/lib/python3.11/site-packages"
  "deb:mediawiki deb:wordpress deb:phpmyadmin deb:roundcube-core deb:redmine deb:jruby"
  "deb:golang-github-docker-docker-dev deb:golang-github-gogo-protobuf-dev
   deb:golang-github-google-go-github-dev deb:golang-github-prometheus-client-golang-dev
   deb:golang-github-minio-minio-go-v7-dev deb:golang-google-grpc-dev
   deb:golang-github-gin-gonic-gin-dev deb:golang-github-syncthing-syncthing-dev"
  "npm:three npm:lodash npm:echarts npm:pdfjs-dist npm:typescript npm:webpack npm:eslint
   npm:rxjs npm:moment npm:vue npm:react-dom npm:d3"
  # other Python versions' standard libraries (pyenv's here), where they differ from this one's
  "${OTHER_STDLIBS:-$(ls -d /root/.pyenv/versions/3.*/lib/python3.* 2>/dev/null | grep -vx "$(dirname "$SITE")" | tr '\n' ' ')}"
  "pypi:keystone pypi:openstack-heat pypi:horizon pypi:ironic pypi:manila pypi:octavia pypi:swift
   pypi:scrapy pypi:celery pypi:kombu pypi:pyramid pypi:flask pypi:werkzeug pypi:aiohttp
   pypi:paramiko pypi:bokeh pypi:pillow pypi:pyqtgraph pypi:black pypi:poetry"
  "pypi:kubernetes pypi:sqlfluff pypi:openpyxl pypi:reportlab pypi:docutils pypi:hypothesis
   pypi:pyglet pypi:kivy"
)
# The AWS SDK for Go is mostly generated accessors: a seeded sample of it, not all.
AWS_SAMPLE=150000
mkdir -p "$OUT/documented" "$OUT/all" "$OUT/extra"

t0=$SECONDS
# 1. documented (the queries' side) and 2. every function, per language (six languages)
[ -f "$OUT/documented/.done" ] || { bash "$HERE/benchmarks/build_multilang_corpus.sh" "$OUT/documented"; touch "$OUT/documented/.done"; }
[ -f "$OUT/all/.done" ] || { CORPUS_ARGS=--all-functions bash "$HERE/benchmarks/build_multilang_corpus.sh" "$OUT/all"; touch "$OUT/all/.done"; }
for kind in documented all; do
  args=(); [ $kind = all ] && args=(--all-functions)
  [ -f "$OUT/$kind/site-packages.jsonl.gz" ] || nice "$SEEKCODE" corpus "$SITE" -o "$OUT/$kind/site-packages.jsonl.gz" --no-progress "${args[@]}"
  [ -f "$OUT/$kind/extra-python.jsonl.gz" ] || nice "$SEEKCODE" corpus "${EXTRA_PY[@]}" -o "$OUT/$kind/extra-python.jsonl.gz" --no-progress "${args[@]}"
done
# 2b. the distractor-only sources, two at a time
extra() {  # NAME ARGS...: one `seekcode corpus` call into extra/NAME.jsonl.gz, once
  local name=$1; shift
  [ -f "$OUT/extra/$name.jsonl.gz" ] || nice "$SEEKCODE" corpus "$@" -o "$OUT/extra/$name.jsonl.gz.tmp.jsonl.gz" \
    --no-progress --all-functions --max-file-bytes 100M > "$OUT/extra/$name.log" 2>&1 &&
    mv "$OUT/extra/$name.jsonl.gz.tmp.jsonl.gz" "$OUT/extra/$name.jsonl.gz"
}
i=0
for group in "${EXTRA_SOURCES[@]}"; do
  # shellcheck disable=SC2086  # a group is a list of specs
  extra "extra$i" $group &
  i=$((i + 1))
  [ $((i % 2)) -eq 0 ] && wait
done
extra aws-sdk-go deb:golang-github-aws-aws-sdk-go-dev --max-records "$AWS_SAMPLE" &
wait
for f in "$OUT"/extra/*.log; do tail -1 "$f"; done
echo "sources read in $((SECONDS - t0)) s" >&2

# 3. one corpus: documented first (they win a duplicate), the rest as distractors
nice "$PYTHON" "$HERE/benchmarks/merge_corpora.py" "$OUT"/documented/*.jsonl.gz --language all \
  --distractors "$OUT"/all/*.jsonl.gz "$OUT"/extra/*.jsonl.gz -o "$OUT/corpus.jsonl.gz"
echo "done in $((SECONDS - t0)) s" >&2
