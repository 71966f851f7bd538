"""The SQLite catalog of a sample library: `Catalog`, the one object the rest of samplesort
opens, reads and writes the catalog through.

One row per file path: size and mtime (for the stat-only rescan), a content hash of the decoded
audio (moves and duplicates), duration / format / sample rate / channels, the feature vector as a
little-endian float32 BLOB with its schema version (reclassify without decoding), and the
prediction: label, confidence, accepted labels, per-class scores, the model's identity. A file
gone from disk keeps its row with `missing = 1`; a file that could not be analysed has `error`.

`Catalog` is put together from three modules: `catalog_schema` (the schema and named
migrations, opening, WAL, transactions, `CatalogError`), `catalog_reads` (queries, stats,
duplicates, stored features) and `catalog_writes` (scan batches, moves by content hash,
predictions, the rows that follow organize). Their public names are importable from here.
"""

from __future__ import annotations

from .catalog_reads import CatalogReads, Entry, Known
from .catalog_schema import (
    BUSY_TIMEOUT_S,
    ENV_VAR,
    MIGRATIONS,
    SCHEMA_VERSION,
    CatalogError,
    default_path,
)
from .catalog_writes import CatalogWrites, Record

__all__ = [
    "BUSY_TIMEOUT_S",
    "ENV_VAR",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Catalog",
    "CatalogError",
    "Entry",
    "Known",
    "Record",
    "default_path",
]


class Catalog(CatalogReads, CatalogWrites):
    """An open catalog. Use `Catalog.open(path)`; close it (or use it as a context manager)."""
