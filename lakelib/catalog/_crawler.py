"""The crawler: zone folders become tables, hive folders partitions, samples schemas.

What it decides, and why (``lake crawl --explain`` prints each decision):

- **Tables.** Each folder directly under a zone is a table: ``raw/sales`` is ``raw_sales``,
  ``processed/sales_clean`` and ``curated/customer_aggregates`` keep their names,
  ``quarantine/sales_clean`` is ``quarantine_sales_clean`` (the prefixes are
  ``lakelib/layout.toml``'s, which the stack's Glue crawlers use too). A folder whose name
  is not a valid lake name is reported and skipped. Files and folders whose names start
  with ``.`` or ``_`` (Spark's ``_SUCCESS``, temp files) are ignored.
- **Partitions.** ``key=value`` folders are partitions, keys typed ``string`` as Glue does.
  A folder without ``=`` is reported and its files skipped; when files sit under different
  key layouts, the layout holding most files wins and the others are reported.
- **Format.** From the file name: ``.json[l][.gz]``, ``.csv[.gz]``, ``.parquet``. When a table
  mixes formats, the one with most files wins and the other files are reported.
- **Sampling budget** (:class:`SamplingBudget`): at most 2 files per partition (the newest
  and the oldest by key; an unreadable file lets another be tried, up to 4); from each JSON
  or CSV file at most 1 MiB of text and 1000 records; from Parquet only the footer (64 KiB
  read from the end). Every partition is sampled on every crawl.
- **Types.** JSON integers are ``bigint`` (JSON has no 32-bit integer; bigint avoids a schema
  change when values grow), fractions ``double``, objects ``struct<...>``, lists
  ``array<...>``, strings ``string`` (dates in text stay text, as Glue's classifier leaves
  them; the ETL casts). CSV fields are typed by what every sampled value parses as. Parquet
  types come from the footer. A column that held only nulls is ``string``, as in Glue.
- **Schema change policy.** New columns are appended. A type conflict widens
  ``int -> bigint -> double -> string`` (decimals grow, ``date -> timestamp``, structs take the
  union of their fields, anything else becomes ``string``) and is recorded. A column the
  sample no longer shows is kept: the crawler never drops a column. Each schema change is a
  new schema version in the catalog's history.
- **Partitions vs table.** Partitions always carry the table's schema (the Glue backend
  rewrites their storage descriptors on a schema change), so Athena never sees
  ``HIVE_PARTITION_SCHEMA_MISMATCH``. A Parquet partition whose files hold a type the
  table's type cannot be read from (``bigint`` data in a ``string`` column) cannot be fixed
  in the catalog: it is reported, one line, with what to do.
- **Problems** (an unreadable file, an empty folder, mixed formats, a folder without ``=``, a
  corrupt Parquet footer) are one line each; the crawl goes on with the rest. A partition
  whose sampled files are all unreadable is not registered; partitions whose folders are gone
  are removed.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lakelib.catalog._base import Catalog
from lakelib.catalog._infer import (
    FileSchema,
    SamplingBudget,
    SchemaAccumulator,
    UnreadableFileError,
    extension,
    file_format,
    infer_file,
    sample_order,
)
from lakelib.catalog._model import Column, ConcurrentUpdateError, Table
from lakelib.catalog._types import parquet_reads_as, parse, render, widen
from lakelib.config import Settings, Zone, get_settings
from lakelib.config._layout import table_prefix
from lakelib.errors import CatalogError, ConfigError, InvalidNameError, LakeError
from lakelib.storage import (
    ObjectInfo,
    Store,
    nested_zone_folders,
    validate_name,
)

log = logging.getLogger(__name__)

DEFAULT_ZONES = (Zone.RAW, Zone.PROCESSED, Zone.CURATED, Zone.QUARANTINE)
_FORMAT_ORDER = ("json", "csv", "parquet")
_RETRIES = 5


def table_name_for(zone: Zone | str, folder: str) -> str:
    """The catalog table a zone folder becomes.

    >>> table_name_for("raw", "sales"), table_name_for("quarantine", "sales_clean")
    ('raw_sales', 'quarantine_sales_clean')
    """
    validate_name(folder, "table folder")
    return validate_name(table_prefix(Zone(zone).value) + folder, "table")


@dataclass
class TableReport:
    """What a crawl did to one table."""

    zone: str
    folder: str
    table: str
    action: str = "skipped"  # created | updated | unchanged | skipped
    version: int = 0
    classification: str = ""
    columns: int = 0
    columns_added: list[str] = field(default_factory=list)
    types_widened: list[tuple[str, str, str]] = field(default_factory=list)
    partitions: int = 0
    partitions_added: list[str] = field(default_factory=list)
    partitions_removed: list[str] = field(default_factory=list)
    files_sampled: int = 0
    problems: list[str] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.action in {"created", "updated"} or bool(
            self.partitions_added or self.partitions_removed
        )

    def problem(self, text: str) -> None:
        # One line, always: foreign error messages (pyarrow's) can carry newlines.
        line = " ".join(f"{self.zone}/{self.folder}: {text}".split())
        log.info("%s", line)
        self.problems.append(line)


@dataclass
class CrawlReport:
    """The result of :func:`crawl`: one :class:`TableReport` per folder, plus zone problems."""

    zones: list[str]
    tables: list[TableReport] = field(default_factory=list)
    zone_problems: list[str] = field(default_factory=list)
    explain: bool = False

    @property
    def problems(self) -> list[str]:
        return self.zone_problems + [p for t in self.tables for p in t.problems]

    @property
    def changed(self) -> bool:
        return any(t.changed for t in self.tables)

    def table(self, name: str) -> TableReport:
        for report in self.tables:
            if report.table == name:
                return report
        raise KeyError(name)

    def decisions(self) -> list[str]:
        return [f"{t.table}: {d}" for t in self.tables for d in t.decisions]

    def to_dict(self) -> dict[str, Any]:
        return {
            "zones": self.zones,
            "problems": self.problems,
            "tables": [
                {k: v for k, v in vars(t).items() if k != "decisions" or self.explain}
                for t in self.tables
            ],
        }


def crawl(
    zone: Zone | str | None = None,
    *,
    catalog: Catalog | None = None,
    settings: Settings | None = None,
    explain: bool = False,
    budget: SamplingBudget | None = None,
) -> CrawlReport:
    """Update the catalog from what is in one zone (or raw, processed, curated, quarantine).

    Parameters
    ----------
    zone:
        a zone name; ``None`` crawls the four data zones.
    catalog:
        the catalog to update; :func:`open_catalog` for the settings when omitted.
    settings:
        the settings in force when omitted.
    explain:
        record every decision (why a type, why a header, what changed) in the report.
    budget:
        how much to read; see :class:`SamplingBudget` for the defaults.

    Returns
    -------
    CrawlReport
        per table: created / updated / unchanged, columns added, types widened, partitions
        added / removed and problems (one line each).

    Examples
    --------
    >>> report = crawl("raw", explain=True)                    # doctest: +SKIP
    >>> report.table("raw_sales").partitions_added              # doctest: +SKIP
    ['year=2024/month=01/day=05']
    """
    settings = settings or get_settings()
    budget = budget or SamplingBudget()
    if zone is None:
        zones = list(DEFAULT_ZONES)
    else:
        try:
            zones = [Zone(zone)]
        except ValueError:
            known = ", ".join(z.value for z in DEFAULT_ZONES)
            raise ConfigError(f"unknown zone {zone!r} (crawlable: {known})") from None
    if catalog is None:
        from lakelib.catalog._open import open_catalog

        catalog = open_catalog(settings)
    report = CrawlReport([z.value for z in zones], explain=explain)
    used: dict[str, str] = {}
    config_errors: list[ConfigError] = []
    for current in zones:
        try:
            store = settings.store(current)
        except ConfigError as exc:
            config_errors.append(exc)
            report.zone_problems.append(f"{current.value}: {exc}")
            continue
        try:
            folders = _folders(store)
        except LakeError as exc:
            report.zone_problems.append(f"{current.value}: cannot list {store.root}: {exc}")
            continue
        for nested in nested_zone_folders(current, settings):
            # On aws, quarantine/ sits inside the processed bucket: it is not a table.
            folders.pop(nested, None)
        for folder, files in sorted(folders.items()):
            report.tables.append(
                _crawl_folder(current, folder, files, store, catalog, budget, explain, used)
            )
    if config_errors and len(config_errors) == len(zones):
        raise config_errors[0]
    return report


def _folders(store: Store) -> dict[str, list[ObjectInfo]]:
    """Top-level folders of a zone and the objects under each (empty folders too)."""
    folders: dict[str, list[ObjectInfo]] = {
        name: [] for name in store.folders() if not name.startswith((".", "_"))
    }
    for info in store.list():
        top, sep, _ = info.key.partition("/")
        if sep and not top.startswith((".", "_")):
            folders.setdefault(top, []).append(info)
    return folders


@dataclass
class _PartitionScan:
    values: dict[str, str]
    files: list[ObjectInfo]
    schema: SchemaAccumulator = field(default_factory=SchemaAccumulator)
    sampled: list[FileSchema] = field(default_factory=list)
    readable: bool = False


def _crawl_folder(
    zone: Zone,
    folder: str,
    files: list[ObjectInfo],
    store: Store,
    catalog: Catalog,
    budget: SamplingBudget,
    explain: bool,
    used: dict[str, str],
) -> TableReport:
    try:
        name = table_name_for(zone, folder)
    except InvalidNameError as exc:
        report = TableReport(zone.value, folder, "-")
        report.problem(f"{exc}; folder skipped")
        return report
    report = TableReport(zone.value, folder, name)
    note = report.decisions.append if explain else (lambda _line: None)
    if name in used:
        report.problem(f"table name {name} is already taken by {used[name]}; folder skipped")
        return report
    used[name] = f"{zone.value}/{folder}"
    note(f"folder {zone.value}/{folder} -> table {name}" + _naming_reason(zone))
    try:
        _scan_table(report, zone, folder, files, store, catalog, budget, note)
    except CatalogError as exc:
        report.problem(f"catalog not updated: {exc}")
    return report


def _naming_reason(zone: Zone) -> str:
    prefix = table_prefix(zone.value)
    return f" ({zone.value} zone tables are prefixed {prefix})" if prefix else ""


def _scan_table(
    report: TableReport,
    zone: Zone,
    folder: str,
    files: list[ObjectInfo],
    store: Store,
    catalog: Catalog,
    budget: SamplingBudget,
    note: Any,
) -> None:
    name = report.table
    existing = catalog.find_table(name)
    partitions, classification = _layout(report, folder, files, note)
    if not partitions:
        if existing is None:
            report.problem("no data files; no table created")
        else:
            report.problem("no data files; the table is kept as it is (never dropped by a crawl)")
            report.action, report.version = "unchanged", existing.version
            report.classification, report.columns = existing.classification, len(existing.columns)
        return
    report.classification = classification
    keys = tuple(next(iter(partitions.values())).values)

    # Sample every partition within the budget.
    compressions: Counter[str] = Counter()
    csv_layouts: Counter[tuple[str, bool, bool]] = Counter()
    for spec, scan in sorted(partitions.items()):
        _sample_partition(report, folder, spec, scan, store, budget, note)
        for sampled in scan.sampled:
            compressions[sampled.compression] += 1
            if sampled.csv is not None:
                csv_layouts[(sampled.csv.delimiter, sampled.csv.header, sampled.csv.quoted)] += 1
    readable = {spec: scan for spec, scan in partitions.items() if scan.readable}
    if not readable and existing is None:
        report.problem("no readable file in any partition; no table created")
        return

    parameters = {"lakelib.zone": zone.value}
    if csv_layouts:
        (delimiter, header, quoted), _ = csv_layouts.most_common(1)[0]
        parameters["delimiter"] = delimiter
        parameters["skip.header.line.count"] = "1" if header else "0"
        if quoted:
            parameters["quoteChar"] = '"'
        if len(csv_layouts) > 1:
            report.problem(
                f"CSV files differ in layout (delimiter/header/quotes): {len(csv_layouts)} "
                f"variants; the table uses delimiter {delimiter!r}, header={header}"
            )
    compression = compressions.most_common(1)[0][0] if compressions else "none"
    if compression == "":
        compression = "none"
    note(
        f"format {classification}, compression {compression}; partition keys "
        f"{', '.join(keys) or '(none: files sit directly in the folder)'}"
        + (" typed string, as Glue types partition keys" if keys else "")
    )

    observed = SchemaAccumulator()
    for _spec, scan in sorted(readable.items()):
        observed.merge(scan.schema)
    for widening in observed.widenings:
        note(
            _widening_reason(
                widening.column,
                widening.before,
                widening.seen,
                widening.after,
                widening.where,
                classification,
            )
        )

    location = store.url(folder)
    for attempt in range(_RETRIES):
        table, decisions = _merge_table(
            existing,
            observed,
            catalog.database,
            name,
            keys,
            location,
            classification,
            compression,
            parameters,
            report,
        )
        try:
            change = catalog.put_table(table, expected_version=existing.version if existing else 0)
            break
        except ConcurrentUpdateError:
            log.info("%s changed under us; merging again (attempt %d)", name, attempt + 1)
            existing = catalog.find_table(name)
    else:
        raise CatalogError(f"table {name} kept changing under this crawl; try again")
    for line in decisions:
        note(line)
    report.action, report.version = change.action, change.version
    report.columns = len(table.columns)
    report.columns_added = list(change.columns_added) if change.action == "updated" else []
    report.types_widened = list(change.types_changed)
    if change.action != "unchanged":
        note(f"{change.action}: schema version {change.version}; " + "; ".join(change.lines()))
    else:
        note(f"unchanged at schema version {change.version}")

    _sync_partitions(report, folder, partitions, readable, table, store, catalog, note)
    _check_drift(report, readable, table, note)


def _layout(
    report: TableReport, folder: str, files: list[ObjectInfo], note: Any
) -> tuple[dict[str, _PartitionScan], str]:
    """Group a table folder's files into partitions of one key layout and one format."""
    ignored = 0
    bad_folders: Counter[str] = Counter()
    unknown: dict[str, list[str]] = {}
    layouts: dict[tuple[str, ...], list[tuple[dict[str, str], ObjectInfo]]] = {}
    for info in files:
        relative = info.key[len(folder) + 1 :]
        segments = relative.split("/")
        # S3 "folder" markers (keys ending in /) hold no data, like Spark's _SUCCESS.
        if not segments[-1] or any(s.startswith((".", "_")) for s in segments):
            ignored += 1
            continue
        values: dict[str, str] = {}
        bad = None
        for segment in segments[:-1]:
            key, sep, value = segment.partition("=")
            if not sep or not value or not _valid_key(key):
                bad = "/".join(segments[:-1])
                break
            values[key] = value
        if bad is not None:
            bad_folders[bad] += 1
            continue
        if file_format(info.key) is None:
            unknown.setdefault(extension(info.key), []).append(relative)
            continue
        layouts.setdefault(tuple(values), []).append((values, info))
    if ignored:
        note(f"{ignored} hidden or marker files (names starting with . or _) ignored")
    for bad, count in sorted(bad_folders.items()):
        report.problem(
            f"folder {bad!r} is not a key=value partition folder (or its key is not "
            f"[a-z0-9_]+); its {count} file(s) are skipped"
        )
    for ext, names in sorted(unknown.items()):
        report.problem(f"{len(names)} file(s) of unknown format {ext} skipped (first: {names[0]})")
    if not layouts:
        return {}, ""
    ranked = sorted(layouts.items(), key=lambda item: (-len(item[1]), item[0]))
    keys, chosen = ranked[0]
    for other, members in ranked[1:]:
        report.problem(
            f"{len(members)} file(s) under partition keys ({', '.join(other) or 'none'}) "
            f"instead of ({', '.join(keys) or 'none'}) skipped (first: "
            f"{members[0][1].key[len(folder) + 1 :]})"
        )
    formats: Counter[str] = Counter()
    for _values, info in chosen:
        found = file_format(info.key)
        assert found is not None
        formats[found[0]] += 1
    classification = sorted(formats, key=lambda f: (-formats[f], _FORMAT_ORDER.index(f)))[0]
    if len(formats) > 1:
        others = [f for f in formats if f != classification]
        skipped = [
            info.key[len(folder) + 1 :]
            for _v, info in chosen
            if (file_format(info.key) or ("", ""))[0] != classification
        ]
        counts = ", ".join(f"{formats[f]} {f}" for f in sorted(formats))
        report.problem(
            f"mixed formats ({counts} files): the table is {classification}; the "
            f"{' and '.join(others)} file(s) are skipped (first: {skipped[0]})"
        )
    partitions: dict[str, _PartitionScan] = {}
    for values, info in chosen:
        if (file_format(info.key) or ("", ""))[0] != classification:
            continue
        spec = "/".join(f"{k}={v}" for k, v in values.items())
        partitions.setdefault(spec, _PartitionScan(values, [])).files.append(info)
    return partitions, classification


def _valid_key(key: str) -> bool:
    try:
        validate_name(key, "partition key")
    except InvalidNameError:
        return False
    return True


def _sample_partition(
    report: TableReport,
    folder: str,
    spec: str,
    scan: _PartitionScan,
    store: Store,
    budget: SamplingBudget,
    note: Any,
) -> None:
    sizes = {info.key: info.size for info in scan.files}
    order = sample_order(sizes)
    failures = 0
    for key in order:
        if len(scan.sampled) >= budget.files_per_partition:
            break
        if failures + len(scan.sampled) >= 2 * budget.files_per_partition:
            break
        relative = key[len(folder) + 1 :]
        try:
            sampled = infer_file(store, key, sizes[key], budget)
        except UnreadableFileError as exc:
            failures += 1
            report.problem(f"cannot read {relative}: {exc}; file skipped")
            continue
        report.files_sampled += 1
        scan.sampled.append(sampled)
        if sampled.records or sampled.columns.types:
            scan.readable = True
        for name, seen in sampled.columns.types.items():
            scan.schema.add(name, seen, relative)
        detail = f"{sampled.records} records" + (
            " (sample cut at the budget)" if sampled.truncated else ""
        )
        note(f"sampled {relative}: {detail}")
        for line in sampled.notes:
            note(f"{relative}: {line}")
    if not scan.readable:
        if failures:
            report.problem(
                f"partition {spec or '(root)'}: none of the sampled files is readable; "
                "partition not registered"
            )
        else:
            note(f"partition {spec or '(root)'}: only empty files; not registered")


def _type_reason(type_text: str, classification: str) -> str:
    if classification == "parquet":
        return "declared in the Parquet footer"
    t = parse(type_text)
    if isinstance(t, tuple):
        return {
            "struct": "nested object: its fields become a struct",
            "array": "a list: element types merged into an array",
            "map": "a map",
        }[t[0]]
    if classification == "json":
        return {
            "bigint": "JSON integers are bigint (JSON has no 32-bit int; bigint avoids a "
            "schema change when values grow)",
            "double": "a JSON number with a fraction",
            "boolean": "JSON true/false",
            "string": "JSON text (dates in text stay text, as Glue leaves them)",
        }.get(type_text, "JSON value")
    return {
        "bigint": "every sampled value is an integer",
        "double": "every sampled value is a number, some with a fraction",
        "boolean": "every sampled value is true/false",
        "string": "some sampled value is text",
    }.get(type_text, "CSV value")


def _widening_reason(
    column: str, before: str, seen: str, after: str, where: str, classification: str
) -> str:
    why = (
        "a value seen as text cannot be read as a number, so string is the only type "
        "that keeps every value readable (the ETL casts it)"
        if after == "string"
        else f"{after} holds every {before} and {seen} value"
    )
    return f"column {column}: {before} and {seen} seen (at {where}) -> {after}: {why}"


def _merge_table(
    existing: Table | None,
    observed: SchemaAccumulator,
    database: str,
    name: str,
    keys: Sequence[str],
    location: str,
    classification: str,
    compression: str,
    parameters: dict[str, str],
    report: TableReport,
) -> tuple[Table, list[str]]:
    """Apply the schema change policy: add new columns, widen conflicts, drop nothing."""
    decisions: list[str] = []
    columns: list[Column] = []
    seen_names = set()
    widened = {w.column for w in observed.widenings}
    for col in existing.columns if existing else ():
        seen_names.add(col.name)
        if col.name not in observed.types:
            decisions.append(
                f"column {col.name} {col.type}: not in this crawl's sample; kept (a crawl "
                "never drops a column)"
            )
            columns.append(col)
            continue
        seen = observed.types[col.name]
        after = render(widen(parse(col.type), seen)) if seen is not None else col.type
        if after != col.type:
            decisions.append(
                _widening_reason(
                    col.name,
                    col.type,
                    render(seen),
                    after,
                    observed.first_seen[col.name],
                    classification,
                )
            )
        columns.append(Column(col.name, after, col.comment))
    for column_name, seen in observed.types.items():
        if column_name in seen_names:
            continue
        if column_name in keys:
            report.problem(
                f"column {column_name} in the files has the name of a partition key; the "
                "partition key wins and the column is not catalogued"
            )
            continue
        type_text = render(seen)
        if seen is None:
            reason = "only nulls seen; Glue types such columns string"
        elif column_name in widened:
            reason = "widened over conflicting values (see above)"
        else:
            reason = _type_reason(type_text, classification)
        lead = "added column" if existing else "column"
        decisions.append(
            f"{lead} {column_name} {type_text}: {reason} (first seen in "
            f"{observed.first_seen[column_name]})"
        )
        columns.append(Column(column_name, type_text))
    if existing is not None and tuple(keys) != existing.partition_keys:
        decisions.append(
            f"partition keys change from ({', '.join(existing.partition_keys)}) to "
            f"({', '.join(keys)}): the old partitions no longer match the folders"
        )
        report.problem(
            f"partition keys changed from ({', '.join(existing.partition_keys)}) to "
            f"({', '.join(keys)}); partitions re-registered"
        )
    merged_params = dict(existing.parameters) if existing else {}
    merged_params.update(parameters)
    table = Table(
        database=database,
        name=name,
        columns=tuple(columns),
        partition_keys=tuple(keys),
        location=location,
        classification=classification,
        compression=compression,
        parameters=merged_params,
        description=existing.description if existing else "",
    )
    return table, decisions


def _sync_partitions(
    report: TableReport,
    folder: str,
    partitions: dict[str, _PartitionScan],
    readable: dict[str, _PartitionScan],
    table: Table,
    store: Store,
    catalog: Catalog,
    note: Any,
) -> None:
    registered = (
        {p.spec: p for p in catalog.list_partitions(table.name)} if table.partition_keys else {}
    )
    wanted = []
    for spec, scan in sorted(readable.items()):
        if not table.partition_keys:
            continue
        partition = table.partition(scan.values, store.url(f"{folder}/{spec}"))
        have = registered.get(partition.spec)
        if have is None or have.location != partition.location:
            wanted.append(partition)
    if wanted:
        catalog.add_partitions(table.name, wanted)
        report.partitions_added = [p.spec for p in wanted if p.spec not in registered]
        note(f"partitions added: {', '.join(report.partitions_added) or '-'}")
    gone = [p for spec, p in registered.items() if spec not in partitions]
    if gone:
        catalog.delete_partitions(table.name, gone)
        report.partitions_removed = [p.spec for p in gone]
        removed = ", ".join(report.partitions_removed)
        note(f"partitions removed (their folders hold no data files): {removed}")
    report.partitions = len(catalog.list_partitions(table.name)) if table.partition_keys else 0


def _check_drift(
    report: TableReport, readable: dict[str, _PartitionScan], table: Table, note: Any
) -> None:
    """Partitions whose files disagree with the table: repaired by the catalog or reported."""
    declared = {c.name: c.type for c in table.columns}
    for spec, scan in sorted(readable.items()):
        for column, seen in scan.schema.types.items():
            if seen is None or column not in declared:
                continue
            physical = render(seen)
            if physical == declared[column]:
                continue
            if table.classification == "parquet" and not parquet_reads_as(
                physical, declared[column]
            ):
                report.problem(
                    f"partition {spec}: column {column} is {physical} in its Parquet files but "
                    f"{declared[column]} in the table; queries on this partition fail: rewrite "
                    "it with the table's types (or rerun the ETL for it)"
                )
            else:
                note(
                    f"partition {spec}: column {column} is {physical} in its files, "
                    f"{declared[column]} in the table: readable as {declared[column]}; the "
                    "partition's metadata carries the table schema"
                )
