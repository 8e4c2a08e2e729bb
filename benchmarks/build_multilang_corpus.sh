#!/usr/bin/env bash
# Build one CodeSearchNet-style corpus per language (Go, Java, JavaScript, PHP, Ruby,
# Python), each of at least 10,000 documented functions, from the registries a fresh
# machine reaches: Debian packages (downloaded and unpacked, never installed), npm
# tarballs and PyPI sdists. See docs/corpora.md.
#
#   bash benchmarks/build_multilang_corpus.sh [OUT_DIR] [LANG...]
#
# OUT_DIR defaults to /work/data/multilang; LANG defaults to all six. CORPUS_ARGS adds
# arguments to every `seekcode corpus` call (build_1m_corpus.sh sets --all-functions). Writes
# OUT_DIR/<lang>.jsonl.gz, OUT_DIR/<lang>.summary.json and OUT_DIR/counts.md.
# Downloads are cached ($SEEKCODE_CACHE or ~/.cache/seekcode): a second run reads
# the cache and needs no network. Debian packages need apt lists (run as root:
# `apt-get update` is done once if they are missing).
set -euo pipefail

OUT=${1:-/work/data/multilang}
shift || true
LANGS=("$@")
[ ${#LANGS[@]} -gt 0 ] || LANGS=(go java javascript php ruby python)
HERE=$(cd "$(dirname "$0")/.." && pwd)
SEEKCODE=${SEEKCODE:-$HERE/.venv/bin/seekcode}
PYTHON=${PYTHON:-$HERE/.venv/bin/python}
mkdir -p "$OUT"

# Debian package lists: without them apt-cache knows nothing.
if ! apt-cache show dpkg >/dev/null 2>&1 || [ -z "$(apt-cache search --names-only '^golang-1\.[0-9]+-src$')" ]; then
  echo "apt lists missing: apt-get update" >&2
  apt-get update -q >/dev/null
fi

# The newest package whose name matches a pattern (versions differ across releases).
newest() { apt-cache search --names-only "$1" | awk '{print $1}' | sort -V | tail -1; }

# deb:NAME specs for the packages this release has; others are reported and left out.
debs() {
  for p in "$@"; do
    if apt-cache show "$p" >/dev/null 2>&1; then echo "deb:$p"; else echo "  (no Debian package $p here: left out)" >&2; fi
  done
}

GO_DEBS=("$(newest '^golang-1\.[0-9]+-src$')" golang-golang-x-tools-dev golang-golang-x-net-dev
  golang-golang-x-crypto-dev golang-google-protobuf-dev golang-github-spf13-cobra-dev)
JAVA_DEBS=("$(newest '^openjdk-[0-9]+-source$')")
RUBY_DEBS=("$(newest '^libruby[0-9.]+$')" ruby-sequel ruby-activesupport ruby-activerecord
  ruby-actionpack ruby-actionview ruby-activemodel ruby-railties ruby-activejob ruby-actionmailer
  ruby-activestorage ruby-rack rake ruby-concurrent ruby-mail ruby-prawn ruby-graphql ruby-rouge
  ruby-kramdown rubocop ruby-rspec-core ruby-rspec-expectations ruby-rspec-mocks ruby-net-ssh
  ruby-nokogiri ruby-pdf-reader ruby-octokit ruby-gitlab ruby-i18n ruby-tzinfo ruby-addressable
  ruby-faraday ruby-thor ruby-httpclient ruby-net-ldap ruby-redis ruby-excon ruby-sinatra
  ruby-mustermann ruby-hashie ruby-builder puma)
PHP_DEBS=(php-horde-core php-horde-imp php-horde-kronolith php-horde-imap-client php-horde-mime
  php-horde-kolab-storage php-horde-activesync php-horde-ingo php-horde-nag php-horde-turba
  php-horde-mnemo php-horde-util php-horde-db php-horde-date php-horde-icalendar php-horde-mail
  php-horde-ldap php-horde-form php-horde-prefs php-horde-text-filter php-horde-gollem
  php-horde-ansel php-horde-vfs php-horde-share php-horde-rpc php-horde-auth php-horde-crypt
  php-horde-image php-horde-data php-horde-group php-horde-perms php-horde-cache php-horde-dav
  php-tcpdf php-phpseclib3 php-doctrine-orm php-doctrine-dbal php-laravel-framework
  php-sabre-dav php-sabre-vobject php-twig phpunit php-pear php-monolog php-league-commonmark
  php-guzzlehttp-guzzle php-guzzlehttp-psr7 php-symfony-console php-symfony-http-kernel
  php-symfony-http-foundation php-symfony-dependency-injection php-symfony-routing
  php-symfony-form php-symfony-validator php-symfony-serializer php-symfony-cache
  php-symfony-config php-symfony-yaml php-symfony-process php-symfony-translation)
JS_NPMS=(three phaser ol eslint mathjs lodash node-forge async ramda express mongoose
  handlebars webpack)
PY_SPECS=(stdlib pypi:django pypi:networkx pypi:sqlalchemy)

build() {  # build LANG SPEC...
  local lang=$1
  shift
  echo "== $lang: $# sources" >&2
  local t0=$SECONDS
  # openjdk's sources are one src.zip of ~50 MB: over the 1 MiB default, it would be skipped whole
  # shellcheck disable=SC2086
  nice "$SEEKCODE" corpus "$@" -o "$OUT/$lang.jsonl.gz" --no-progress --json --max-file-bytes 100M \
    ${CORPUS_ARGS:-} >"$OUT/$lang.summary.json"
  echo "   $lang done in $((SECONDS - t0)) s" >&2
  echo "$lang $((SECONDS - t0))" >>"$OUT/.seconds"
}

for lang in "${LANGS[@]}"; do
  case $lang in
    go) mapfile -t specs < <(debs "${GO_DEBS[@]}") ;;
    java) mapfile -t specs < <(debs "${JAVA_DEBS[@]}") ;;
    ruby) mapfile -t specs < <(debs "${RUBY_DEBS[@]}") ;;
    php) mapfile -t specs < <(debs "${PHP_DEBS[@]}") ;;
    javascript) specs=("${JS_NPMS[@]/#/npm:}") ;;
    python) specs=("${PY_SPECS[@]}") ;;
    *) echo "unknown language $lang (go java javascript php ruby python)" >&2; exit 2 ;;
  esac
  build "$lang" "${specs[@]}"
done

# Per-language counts by the records' own language field, and by partition, for
# every corpus in OUT (also those of earlier runs).
"$PYTHON" - "$OUT" go java javascript php ruby python <<'EOF'
import collections, json, sys
from pathlib import Path
from seekcode.corpus.jsonl import read_records

out, langs = Path(sys.argv[1]), sys.argv[2:]
seconds = dict(line.split() for line in (out / ".seconds").read_text().splitlines())
rows = ["| corpus | records | by language | train / valid / test | projects | seconds |",
        "|---|---:|---|---|---:|---:|"]
for lang in langs:
    if not (out / f"{lang}.jsonl.gz").exists():
        continue
    by_lang, by_part, repos = collections.Counter(), collections.Counter(), set()
    for r in read_records(out / f"{lang}.jsonl.gz"):
        by_lang[r.language] += 1
        by_part[r.partition] += 1
        repos.add(r.repo)
    parts = " / ".join(f"{by_part[p]:,}" for p in ("train", "valid", "test"))
    langs_txt = ", ".join(f"{k} {v:,}" for k, v in by_lang.most_common())
    rows.append(f"| {lang} | {sum(by_lang.values()):,} | {langs_txt} | {parts} | {len(repos)} | {seconds.get(lang, '?')} |")
(out / "counts.md").write_text("\n".join(rows) + "\n")
print("\n".join(rows))
EOF
