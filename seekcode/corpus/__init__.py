"""Records, CodeSearchNet jsonl I/O, and extraction of functions from sources."""

from seekcode.corpus.jsonl import read_records, write_records
from seekcode.corpus.record import Record
from seekcode.corpus.skips import SkipReport

__all__ = ["Record", "SkipReport", "read_records", "write_records"]
