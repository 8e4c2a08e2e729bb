#!/usr/bin/env bash
# A pool of >= 1,000,000 distinct real functions for CoSHC at scale (issue 13), from the
# registries a fresh machine reaches. Documented functions (CodeSearchNet's filters) are the
# queries' side; every other parsable function is a distractor (its docstring dropped, so it
# is never a query). Split train/valid/test by project over both, so held-out queries come
# only from documented functions of held-out projects.
#
#   bash benchmarks/build_1m_corpus.sh [OUT_DIR]      # default /work/data/pool1m
#
# Writes OUT_DIR/documented/*.jsonl.gz, OUT_DIR/all/*.jsonl.gz and OUT_DIR/corpus.jsonl.gz.
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
mkdir -p "$OUT/documented" "$OUT/all"

t0=$SECONDS
# 1. documented (the queries' side) and 2. every function, per language (six languages)
[ -f "$OUT/documented/.done" ] || { bash "$HERE/benchmarks/build_multilang_corpus.sh" "$OUT/documented"; touch "$OUT/documented/.done"; }
[ -f "$OUT/all/.done" ] || { CORPUS_ARGS=--all-functions bash "$HERE/benchmarks/build_multilang_corpus.sh" "$OUT/all"; touch "$OUT/all/.done"; }
for kind in documented all; do
  args=(); [ $kind = all ] && args=(--all-functions)
  [ -f "$OUT/$kind/site-packages.jsonl.gz" ] || nice "$SEEKCODE" corpus "$SITE" -o "$OUT/$kind/site-packages.jsonl.gz" --no-progress "${args[@]}"
  [ -f "$OUT/$kind/extra-python.jsonl.gz" ] || nice "$SEEKCODE" corpus "${EXTRA_PY[@]}" -o "$OUT/$kind/extra-python.jsonl.gz" --no-progress "${args[@]}"
done
echo "sources read in $((SECONDS - t0)) s" >&2

# 3. one corpus: documented first (they win a duplicate), the rest as distractors
nice "$PYTHON" "$HERE/benchmarks/merge_corpora.py" "$OUT"/documented/*.jsonl.gz --language all \
  --distractors "$OUT"/all/*.jsonl.gz -o "$OUT/corpus.jsonl.gz"
echo "done in $((SECONDS - t0)) s" >&2
