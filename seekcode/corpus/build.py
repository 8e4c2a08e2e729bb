"""Sources to records to a corpus file: extract, filter, dedupe, sample, split, write."""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from seekcode.corpus.extract import Extractor, Function, ParseError, extractor_for
from seekcode.corpus.filters import FilterConfig, FunctionFilter
from seekcode.corpus.jsonl import write_records
from seekcode.corpus.record import Record
from seekcode.corpus.skips import SkipReport
from seekcode.corpus.sources import (
    DEFAULT_MAX_FILE_BYTES,
    DecodeError,
    SourceFile,
    SourceOptions,
    decode_source,
    iter_source_files,
)
from seekcode.corpus.split import DEFAULT_FRACTIONS, SplitReport, check_fractions, partition
from seekcode.corpus.walk import generated_reason
from seekcode.errors import InputError


def iter_functions(
    sources: Iterable[str],
    *,
    options: SourceOptions | None = None,
    skips: SkipReport | None = None,
    progress: bool = False,
) -> Iterator[tuple[SourceFile, Function]]:
    """Every function of every parsable source file, unfiltered, in source order."""
    skips = skips if skips is not None else SkipReport()
    files: Iterable[SourceFile] = iter_source_files(sources, options, skips)
    bar = None
    if progress:
        from tqdm import tqdm

        # disable=None: no bar when stderr is not a terminal (CI logs stay readable).
        bar = tqdm(files, desc="corpus", unit=" files", file=sys.stderr, disable=None)
        files = bar
    n_functions = 0
    seen: set[str] = set()
    for src in files:
        if src.url_base in seen:  # `stdlib stdlib:json`: same file twice, same urls
            skips.skip("file listed twice", src.display)
            continue
        seen.add(src.url_base)
        extractor = extractor_for(src.path)
        if extractor is None:
            continue
        functions = extract_file(src, extractor, skips)
        if functions is None:
            continue
        n_functions += len(functions)
        if bar is not None:
            bar.set_postfix(functions=n_functions, refresh=False)
        for fn in functions:
            yield src, fn
    if bar is not None:
        bar.close()


def extract_file(src: SourceFile, extractor: Extractor, skips: SkipReport) -> list[Function] | None:
    """The functions of one source file, or None after counting why it was skipped.

    Every source (folder, archive, registry) goes through here, so undecodable,
    generated and unparsable files are skipped alike for `corpus` and `index`.
    """
    try:
        text = decode_source(src.data)
    except DecodeError as e:
        skips.skip(e.reason, src.display)
        return None
    reason = generated_reason(src.path, text)
    if reason:
        skips.skip(reason, src.display)
        return None
    try:
        found = extractor.extract(text, src.path)
        if getattr(found, "capped", ""):  # see languages/base.py: per-file caps
            skips.skip("functions capped per file", f"{src.display} ({found.capped})")  # type: ignore[attr-defined]
        return found
    except ParseError as e:
        skips.skip("syntax error", f"{src.display} ({e})")
    except Exception as e:  # noqa: BLE001 - an extractor bug must cost one file, not the run
        skips.skip(f"extractor failed ({type(e).__name__})", f"{src.display} ({e})")
    return None


def to_record(src: SourceFile, fn: Function) -> Record:
    """The CodeSearchNet record of one extracted function."""
    return Record(
        code=fn.code,
        docstring=fn.docstring,
        repo=src.repo,
        path=src.path,
        func_name=fn.name,
        original_string=fn.original,
        language=fn.language,
        url=src.url(fn.start_line, fn.end_line),
        start_line=fn.start_line,
        end_line=fn.end_line,
    )


def iter_records(
    sources: Iterable[str],
    filters: FilterConfig | None = None,
    skips: SkipReport | None = None,
    *,
    options: SourceOptions | None = None,
    progress: bool = False,
) -> Iterator[Record]:
    """Records of the functions that pass `filters` (default: CodeSearchNet's), unsplit.

    For indexing a code base, pass `FilterConfig.all_functions()`. Skipped files and
    functions are counted in `skips`.
    """
    skips = skips if skips is not None else SkipReport()
    keep = FunctionFilter(filters, skips)
    for src, fn in iter_functions(sources, options=options, skips=skips, progress=progress):
        if keep.keep(fn, f"{src.display}:{fn.start_line} {fn.name}"):
            yield to_record(src, fn)


@dataclass
class BuildSummary:
    """What `build` did, for the command's report."""

    out_path: Path
    written: int
    available: int  # records that passed the filters, before `max_records` sampling
    split: SplitReport
    skips: SkipReport
    filters: FilterConfig
    seconds: float
    sources: list[str] = field(default_factory=list)
    seed: int = 0
    fractions: tuple[float, ...] = DEFAULT_FRACTIONS
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES

    def line(self) -> str:
        """One-line summary: records written, per partition, and what was skipped."""
        sampled = f" (sampled from {self.available:,})" if self.available > self.written else ""
        skipped = ", ".join(f"{n:,} {why}" for why, n in self.skips.counts.most_common())
        return (
            f"wrote {self.written:,} records{sampled} to {self.out_path} "
            f"({self.split.describe()}) in {self.seconds:.1f} s; "
            f"skipped {self.skips.total:,}" + (f": {skipped}" if skipped else "")
        )

    def as_dict(self) -> dict:
        return {
            "out": str(self.out_path),
            "records": self.written,
            "available": self.available,
            "partitions": self.split.records,
            "split_unit": self.split.unit,
            "split_groups": self.split.groups,
            "split_note": self.split.note,
            "skipped": self.skips.total,
            "skips": self.skips.as_dict(),
            "skip_examples": self.skips.examples,
            "seconds": round(self.seconds, 3),
            # How the corpus was made, so it can be made again.
            "sources": self.sources,
            "seed": self.seed,
            "fractions": list(self.fractions),
            "max_file_bytes": self.max_file_bytes,
            "filters": asdict(self.filters),
        }


def build(
    sources: Sequence[str],
    out_path: str | Path,
    *,
    filters: FilterConfig | None = None,
    seed: int = 0,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    max_records: int | None = None,
    progress: bool = True,
    options: SourceOptions | None = None,
    skips: SkipReport | None = None,
) -> BuildSummary:
    """Build a corpus file; like `build_corpus` but returns the full summary."""
    start = time.perf_counter()
    check_fractions(fractions)  # fail before the long part, not after it
    if max_records is not None and max_records < 0:
        raise InputError(f"max_records must be >= 0, got {max_records}")
    skips = skips if skips is not None else SkipReport()
    given_specs = [s for s in sources if is_given_dataset(s)]
    extract_specs = [s for s in sources if s not in given_specs]
    records = list(iter_records(extract_specs, filters, skips, options=options, progress=progress))
    available = len(records)
    if max_records is not None and max_records < available:
        # A seeded uniform sample of records (not of projects): a subset keeps the
        # variety of the whole; the project split below is made after sampling.
        picked = sorted(random.Random(seed).sample(range(available), max_records))
        records = [records[i] for i in picked]
    split = partition(records, seed=seed, fractions=fractions)
    # CodeSearchNet data keeps its own partitions (a pool has none): appended after the split.
    records += list(given_records(given_specs, skips))
    written = write_records(out_path, records)
    return BuildSummary(
        out_path=Path(out_path),
        written=written,
        available=available,
        split=split,
        skips=skips,
        filters=filters or FilterConfig(),
        seconds=time.perf_counter() - start,
        sources=list(sources),
        seed=seed,
        fractions=tuple(fractions),
        max_file_bytes=(options or SourceOptions()).max_file_bytes,
    )


def build_corpus(
    sources: Sequence[str],
    out_path: str | Path,
    *,
    filters: FilterConfig | None = None,
    seed: int = 0,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    max_records: int | None = None,
    progress: bool = True,
    options: SourceOptions | None = None,
) -> tuple[int, SkipReport]:
    """Extract, filter, dedupe, sample, split by project and write a jsonl(.gz) corpus.

    `sources` are specs: folders, files, "stdlib", "pypi:NAME[==VER]". `max_records`
    keeps a seeded random subset of the records. Returns (records written, skips).
    """
    summary = build(
        sources,
        out_path,
        filters=filters,
        seed=seed,
        fractions=fractions,
        max_records=max_records,
        progress=progress,
        options=options,
    )
    return summary.written, summary.skips


def is_given_dataset(spec: str) -> bool:
    """A CodeSearchNet split folder or definitions pool: records to read, not code to extract."""
    from seekcode.corpus.codesearchnet import is_codesearchnet, pool_files

    path = Path(spec).expanduser()
    return path.exists() and (is_codesearchnet(path) or bool(pool_files(path)))


def given_records(specs: Sequence[str], skips: SkipReport) -> Iterator[Record]:
    from seekcode.corpus.codesearchnet import (
        is_codesearchnet,
        pool_files,
        read_definitions,
        read_splits,
    )

    for spec in specs:
        path = Path(spec).expanduser()
        if is_codesearchnet(path):
            yield from read_splits(path, skips)
        for pool in pool_files(path):
            yield from read_definitions(pool, skips)

