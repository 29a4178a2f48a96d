"""A shop's own files as a data set: a path (file or folder) instead of a registered name.

A folder holds `events.*` plus optional `items.*` (catalog) and `users.*` (profiles); a file is the
events alone. Columns are mapped explicitly (`{"user": "customer", "item": "sku", ...}`) or guessed
from common names in the header, which is read alone (the first line, the Parquet schema), never the
whole file. Loading goes through `load_event_log`, so every check of the loader applies unchanged.
`resolve_data` is the one place where a data reference (registered name or path) becomes data.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import lzma
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import IO, Any

import polars as pl

from shoprec.data.dataset import DEFAULT_EVENT_WEIGHTS, Dataset, Split
from shoprec.data.sources._jsonl import JSON_LINES_SUFFIXES, is_json_lines
from shoprec.data.sources._text import detect_separator
from shoprec.data.sources.event_log import ColumnMapping, load_event_log
from shoprec.exceptions import ConfigError, DataError

#: `Dataset.metadata` key (and run.json key) of where a path-loaded data set came from, with checksums.
DATA_SOURCE = "data_source"
COMPRESSED = (".gz", ".bz2", ".xz")
FORMATS = (".csv", ".tsv", ".txt", ".parquet", ".pq", *JSON_LINES_SUFFIXES)
#: Role -> ColumnMapping field. "time" is the short name users type; "timestamp" is accepted too.
ROLES = {
    "user": "user",
    "item": "item",
    "event": "event",
    "time": "timestamp",
    "timestamp": "timestamp",
    "weight": "weight",
    "rating": "rating",
    "title": "title",
}
#: Common column names per role, most specific first (compared lower-case, '-' and ' ' as '_').
COMMON_NAMES: dict[str, tuple[str, ...]] = {
    "user": ("user_id", "userid", "user", "customer_id", "customerid", "customer", "client_id", "visitor_id",
             "visitorid", "member_id", "buyer_id", "account_id", "uid"),
    "item": ("item_id", "itemid", "item", "product_id", "productid", "product", "sku", "article_id", "article",
             "asin", "offer_id", "variant_id", "pid", "iid"),
    "event": ("event_type", "eventtype", "event", "action", "event_name", "behavior", "behaviour", "interaction",
              "activity", "type"),
    "timestamp": ("ts", "timestamp", "time", "event_time", "eventtime", "datetime", "event_timestamp", "created_at",
                  "occurred_at", "unix_time", "date"),
    "weight": ("weight",),
    "rating": ("rating", "stars"),
    "title": ("title", "name", "product_name", "item_name"),
}  # fmt: skip
_OPTIONS = ("columns", "event_weights")


@dataclass(frozen=True)
class LocalFiles:
    """The files of one local data set; `root` is what the user named (a file or a folder)."""

    root: Path
    events: Path
    items: Path | None = None
    users: Path | None = None

    def present(self) -> list[Path]:
        return [p for p in (self.events, self.items, self.users) if p is not None]


@dataclass(frozen=True)
class LocalSource:
    """Files + the column mapping in force + which roles were guessed (for the printed hint)."""

    files: LocalFiles
    columns: ColumnMapping
    event_weights: dict[str, float] | None
    guessed: tuple[str, ...] = ()

    def mapping(self) -> dict[str, str]:
        """Every role ("time", not "timestamp") -> its column, "" for none: reloading it guesses nothing."""
        return {_short(f.name): getattr(self.columns, f.name) or "" for f in fields(ColumnMapping)}

    def describe(self) -> str:
        """One line: the mapping, and when guessed, how to override it."""
        present = {role: column for role, column in self.mapping().items() if column}
        text = ",".join(f"{role}={column}" for role, column in present.items())
        if not self.guessed:
            return f"columns: {text}"
        guessed = [role for role in present if role in self.guessed]
        which = "" if len(guessed) == len(present) else f"{', '.join(guessed)} "
        return f"columns ({which}guessed from the header): {text}; override with --columns {text}"

    def record(self) -> dict[str, Any]:
        """What a run stores to find the same data again: path, checksum and size of each file, mapping, weights."""
        files = [file_record(p) for p in self.files.present()]
        return {
            "path": str(self.files.root.resolve()),
            "sha256": files[0]["sha256"],
            "size": files[0]["size"],
            "columns": self.mapping(),
            "event_weights": self.event_weights,
            "files": files,
        }


def is_path_reference(reference: str) -> bool:
    """Whether `reference` names local files rather than a registered data set (registered names win)."""
    from shoprec.data.sources.registry import is_registered

    return not is_registered(reference) and Path(reference).exists()


def resolve_data(reference: str, **options: Any) -> Dataset | Split:
    """The data set a spec names: a registered name via the registry, an existing path via `load_local`."""
    from shoprec.data.sources.registry import is_registered, known_names, load_dataset

    if is_registered(reference):
        return load_dataset(reference, **options)
    if Path(reference).exists():
        check_options(reference, options)
        return load_local(reference, **options)
    raise ConfigError(
        f"unknown data set {reference!r}: not a registered name {known_names()} and no such file or folder"
    )


def check_options(reference: str, options: Mapping[str, Any]) -> None:
    """ConfigError for a data option a local path does not take (e.g. a loader option of a registered set)."""
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise ConfigError(f"data {reference}: unknown option(s) {unknown}; a path takes {list(_OPTIONS)}")


def load_local(
    path: str | Path,
    *,
    columns: Mapping[str, str | None] | None = None,
    event_weights: Mapping[str, float] | None = None,
) -> Dataset:
    """Load a local log (file or folder); metadata[DATA_SOURCE] records files, checksums and mapping."""
    source = resolve_source(path, columns=columns, event_weights=event_weights)
    files = source.files
    try:
        dataset = load_event_log(
            files.events,
            columns=source.columns,
            event_weights=source.event_weights,
            items=files.items,
            users=files.users,
            name=files.root.resolve().name if files.root.is_dir() else _stem(files.root),
        )
    except DataError as exc:
        if exc.column is None or exc.column != source.columns.event or "unknown event type" not in str(exc):
            raise
        hint = f"give every type a weight with --event-weights (TOML: data.event_weights); now {source.event_weights}"
        raise DataError(f"{str(exc).split(' (or pass')[0]}; {hint}") from None
    return replace(dataset, metadata={**dataset.metadata, DATA_SOURCE: source.record()})


def resolve_source(
    path: str | Path,
    *,
    columns: Mapping[str, str | None] | None = None,
    event_weights: Mapping[str, float] | None = None,
) -> LocalSource:
    """Find the files, check an explicit mapping against the headers and guess the roles not given."""
    files = find_files(path)
    explicit = _explicit_roles(columns or {})
    header = read_header(files.events)
    for role, column in explicit.items():
        if column is not None and role != "title" and column not in header:
            raise DataError(
                f"--columns {_short(role)}={column}: no such column; the file has {header}", path=files.events
            )
    mapping: dict[str, str | None] = dict(explicit)
    guessed: list[str] = []
    taken = {c for c in explicit.values() if c is not None}
    for role in ("user", "item", "event", "timestamp", "weight", "rating"):
        if role in mapping:
            continue
        found = guess_column(role, [c for c in header if c not in taken])
        mapping[role] = found
        if found is not None:
            guessed.append(_short(role))
            taken.add(found)
    for role in ("user", "item"):
        if mapping[role] is None:
            raise DataError(
                f"cannot tell which column holds the {role}; the file has {header}; name it with --columns "
                f"{role}=<column>",
                path=files.events,
            )
    _check_catalog(files, mapping, explicit, guessed)
    weights = _weights(mapping["event"], event_weights)
    return LocalSource(files, ColumnMapping(**mapping), weights, tuple(guessed))


def find_files(path: str | Path) -> LocalFiles:
    """A file is the events; a folder must hold exactly one `events.*` and may hold `items.*` and `users.*`."""
    root = Path(path)
    if root.is_file():
        return LocalFiles(root, root)
    if not root.is_dir():
        raise DataError("no such file or folder", path=root)
    found = {name: _one(root, name) for name in ("events", "items", "users")}
    if found["events"] is None:
        present = sorted(p.name for p in root.iterdir())[:20]
        expected = "expected events.csv (or .tsv, .parquet, .jsonl, ...)"
        raise DataError(f"no events file; {expected}, found {present}", path=root)
    return LocalFiles(root, found["events"], found["items"], found["users"])


def read_header(path: Path) -> list[str]:
    """The column names of a file, reading as little as possible (the first line, the Parquet schema)."""
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            return list(pl.read_parquet_schema(path))
        except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
            raise DataError(f"cannot read Parquet ({str(exc).splitlines()[0]})", path=path) from None
    try:
        with _open(path) as stream:
            first = stream.readline().decode("utf-8", errors="replace").lstrip("\ufeff").strip()
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise DataError(f"cannot read ({exc})", path=path) from None
    if not first:
        raise DataError("the first line is empty; expected a header naming the columns", path=path)
    if is_json_lines(path):
        try:
            value = json.loads(first)
        except json.JSONDecodeError as exc:
            message = f"expected a JSON object per line, got invalid JSON ({exc.msg})"
            raise DataError(message, path=path, line=1) from None
        if not isinstance(value, dict):
            raise DataError("expected a JSON object per line", path=path, line=1)
        return list(value)
    separator = detect_separator(first.encode(), path)  # as the loader will
    return [c.strip().strip('"') for c in first.split(separator)]


def guess_column(role: str, header: list[str]) -> str | None:
    """The header's column with the most specific common name for `role`, or None."""
    normal = {re.sub(r"[\s-]+", "_", c.strip().lower()): c for c in header}
    return next((normal[name] for name in COMMON_NAMES[role] if name in normal), None)


def file_record(path: Path) -> dict[str, Any]:
    """{path (absolute), sha256, size} of one file, hashed in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return {"path": str(path.resolve()), "sha256": digest.hexdigest(), "size": path.stat().st_size}


def check_unchanged(record: Mapping[str, Any]) -> None:
    """DataError when a file a run was trained on is gone or its bytes changed since."""
    for entry in record.get("files") or [record]:
        path = Path(entry["path"])
        if not path.is_file():
            raise DataError(f"data file missing since training: {path}; restore it or train a new run")
        now = file_record(path)
        if now["sha256"] != entry["sha256"]:
            raise DataError(
                f"data file changed since training: {path} (sha256 {entry['sha256'][:12]}… at training, "
                f"now {now['sha256'][:12]}…, {now['size']:,} bytes); restore it or train a new run"
            )


def parse_pairs(text: str | None, option: str) -> dict[str, str]:
    """'a=b,c=d' -> {"a": "b", "c": "d"}; ConfigError naming `option` for a piece without '='."""
    pairs: dict[str, str] = {}
    for piece in (text or "").split(","):
        if not piece.strip():
            continue
        key, sep, value = piece.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{option}: expected key=value pairs separated by commas, got {piece.strip()!r}")
        if key.strip() in pairs:
            raise ConfigError(f"{option}: {key.strip()!r} given twice")
        pairs[key.strip()] = value.strip()
    return pairs


def parse_event_weights(text: str | None) -> dict[str, float] | None:
    """'view=1,cart=3' -> {"view": 1.0, "cart": 3.0}; None when not given."""
    if text is None:
        return None
    weights: dict[str, float] = {}
    for event, raw in parse_pairs(text, "--event-weights").items():
        try:
            weights[event] = float(raw)
        except ValueError:
            raise ConfigError(f"--event-weights {event}={raw}: expected a number >= 0") from None
    return weights


def _explicit_roles(columns: Mapping[str, str | None]) -> dict[str, str | None]:
    """ColumnMapping field -> column (None: 'no such column'); unknown roles and shared columns are errors."""
    out: dict[str, str | None] = {}
    for role, column in columns.items():
        if role not in ROLES:
            raise ConfigError(f"--columns: unknown role {role!r}; expected some of {list(dict.fromkeys(ROLES))}")
        if column is not None and not isinstance(column, str):
            raise ConfigError(f"--columns {role}: expected a column name, got {column!r}")
        out[ROLES[role]] = column or None
    by_column: dict[str, list[str]] = {}
    for role, column in out.items():
        if column is not None:
            by_column.setdefault(column, []).append(_short(role))
    for column, roles in by_column.items():
        if len(roles) > 1:
            raise ConfigError(f"--columns: column {column!r} given two roles ({', '.join(roles)}); one role per column")
    return out


def _check_catalog(
    files: LocalFiles, mapping: dict[str, str | None], explicit: dict[str, str | None], guessed: list[str]
) -> None:
    """The catalog and profiles must carry the id columns; a title column is checked or guessed in the catalog."""
    for path, role in ((files.items, "item"), (files.users, "user")):
        if path is None:
            continue
        header = read_header(path)
        if mapping[role] not in header:
            raise DataError(f"no {role} id column {mapping[role]!r}; the file has {header}", path=path)
    catalog = [] if files.items is None else read_header(files.items)
    if "title" in explicit:
        if explicit["title"] is not None and explicit["title"] not in catalog:
            where = files.items if files.items is not None else files.root
            raise DataError(f"--columns title={explicit['title']}: no such column in the catalog {catalog}", path=where)
        return
    mapping["title"] = guess_column("title", [c for c in catalog if c != mapping["item"]])
    if mapping["title"] is not None:
        guessed.append("title")


def _weights(event_column: str | None, given: Mapping[str, float] | None) -> dict[str, float] | None:
    """Weights per event type: the given ones, else the defaults; None when the log has no event column."""
    if event_column is None:
        return None
    return dict(DEFAULT_EVENT_WEIGHTS if given is None else given)


def _one(folder: Path, name: str) -> Path | None:
    matches = sorted(p for p in folder.iterdir() if p.is_file() and _stem(p) == name and _readable(p))
    if len(matches) > 1:
        raise DataError(f"several {name} files {[p.name for p in matches]}; keep one", path=folder)
    return matches[0] if matches else None


def _readable(path: Path) -> bool:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSED:
        suffixes = suffixes[:-1]
    return bool(suffixes) and suffixes[-1] in FORMATS


def _stem(path: Path) -> str:
    """'events' for events.csv, events.csv.gz and events.parquet."""
    name = path.name
    for suffix in COMPRESSED:
        name = name.removesuffix(suffix)
    return name.split(".")[0] if "." in name else name


def _open(path: Path) -> IO[bytes]:
    """The file as a byte stream, decompressed by its magic bytes (as the loaders do)."""
    with path.open("rb") as stream:
        magic = stream.read(6)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.open(path, "rb")
    if magic.startswith(b"BZh"):
        return bz2.open(path, "rb")
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.open(path, "rb")
    return path.open("rb")


def _short(role: str) -> str:
    return "time" if role == "timestamp" else role
