"""The Glue Data Catalog as Athena sees it: databases, tables, partitions and storage formats.

Reads and writes moto's in-process Glue backend. Athena lowercases identifiers and Glue stores
names lowercased, so lookups are case-insensitive here (a table created through moto as
``MyTable`` is still found as ``mytable``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from sandbox.athena.errors import QueryFailed, failed
from sandbox.athena.storage import Location
from sandbox.aws import glue_backend

DEFAULT_CATALOG = "awsdatacatalog"
HIVE_DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # Glue/Hive spelling


@dataclass(frozen=True)
class StorageFormat:
    """How a table's (or partition's) files are read."""

    kind: str  # parquet | text | csv | json | orc | avro | unknown
    serde: str = ""
    serde_params: tuple[tuple[str, str], ...] = ()
    table_params: tuple[tuple[str, str], ...] = ()

    def serde_param(self, name: str, default: str | None = None) -> str | None:
        return dict(self.serde_params).get(name, default)

    def table_param(self, name: str, default: str | None = None) -> str | None:
        return dict(self.table_params).get(name, default)


@dataclass(frozen=True)
class Partition:
    values: tuple[str | None, ...]
    location: Location | None
    storage: StorageFormat


@dataclass
class TableInfo:
    database: str
    name: str
    columns: list[Column]
    partition_keys: list[Column]
    location: Location | None
    storage: StorageFormat
    table_type: str
    parameters: dict[str, str]
    fingerprint: tuple
    raw: Any = field(repr=False, default=None)

    @property
    def qualified(self) -> str:
        return f"{DEFAULT_CATALOG}.{self.database}.{self.name}"

    @property
    def all_columns(self) -> list[Column]:
        return self.columns + self.partition_keys

    @property
    def partitioned(self) -> bool:
        return bool(self.partition_keys)

    def partitions(self) -> list[Partition]:
        return [_cached_partition(p, self) for p in list(self.raw.partitions.values())]


def storage_format(sd: dict, table_params: dict | None = None) -> StorageFormat:
    serde_info = sd.get("SerdeInfo") or {}
    serde = (serde_info.get("SerializationLibrary") or "").lower()
    input_format = (sd.get("InputFormat") or "").lower()
    params = tuple(sorted((serde_info.get("Parameters") or {}).items()))
    tparams = tuple(sorted((table_params or {}).items()))
    return StorageFormat(_format_kind(serde, input_format), serde, params, tparams)


def _format_kind(serde: str, input_format: str) -> str:
    for needle, kind in (("parquet", "parquet"), ("opencsvserde", "csv"), ("jsonserde", "json"),
                         ("openx", "json"), ("lazysimpleserde", "text"), ("orc", "orc"),
                         ("avro", "avro"), ("regexserde", "regex")):
        if needle in serde:
            return kind
    for needle, kind in (("parquet", "parquet"), ("orc", "orc"), ("avro", "avro"),
                         ("textinputformat", "text")):
        if needle in input_format:
            return kind
    return "unknown"


# moto replaces a partition object whenever it changes, so a parsed partition can be reused for as
# long as the same object (and the same table definition) is there; this saves parsing every
# partition's location and SerDe on every query.
_PARTITIONS: dict[int, tuple[Any, tuple, Partition]] = {}
_PARTITIONS_MAX = 200_000


def _cached_partition(raw, table: TableInfo) -> Partition:
    hit = _PARTITIONS.get(id(raw))
    if hit is not None and hit[0] is raw and hit[1] == table.fingerprint:
        return hit[2]
    if len(_PARTITIONS) > _PARTITIONS_MAX:
        _PARTITIONS.clear()
    part = _partition(raw.partition_input, table)
    _PARTITIONS[id(raw)] = (raw, table.fingerprint, part)
    return part


def _partition(part_input: dict, table: TableInfo) -> Partition:
    values = tuple(None if v == HIVE_DEFAULT_PARTITION else v for v in part_input.get("Values", []))
    sd = part_input.get("StorageDescriptor") or {}
    loc = sd.get("Location")
    has_format = bool(sd.get("SerdeInfo") or sd.get("InputFormat"))
    storage = storage_format(sd, table.parameters) if has_format else table.storage
    return Partition(values, Location.parse(loc) if loc else None, storage)


class GlueCatalog:
    """One region's Glue catalog."""

    def __init__(self, region: str, account_id: str):
        self.region = region
        self.account_id = account_id

    @property
    def backend(self):
        return glue_backend(self.region, self.account_id)

    # -- reading -----------------------------------------------------------------------------
    def find_database(self, name: str):
        dbs = self.backend.databases
        db = dbs.get(name) or dbs.get(name.lower())
        if db is None:
            db = next((d for n, d in list(dbs.items()) if n.lower() == name.lower()), None)
        return db

    def database(self, name: str, pos: tuple[int, int] | None = None):
        db = self.find_database(name)
        if db is None:
            raise failed("SCHEMA_NOT_FOUND", f"Schema '{name.lower()}' does not exist", pos)
        return db

    def find_table(self, database: str, name: str) -> TableInfo | None:
        db = self.find_database(database)
        if db is None:
            return None
        tables = db.tables
        raw = tables.get(name) or tables.get(name.lower())
        if raw is None:
            raw = next((t for n, t in list(tables.items()) if n.lower() == name.lower()), None)
        return None if raw is None else table_info(db.name, raw)

    def table(self, database: str, name: str, pos: tuple[int, int] | None = None) -> TableInfo:
        self.database(database, pos)
        info = self.find_table(database, name)
        if info is None:
            raise failed("TABLE_NOT_FOUND",
                         f"Table '{DEFAULT_CATALOG}.{database.lower()}.{name.lower()}' does not exist", pos)
        return info

    def table_names(self, database: str) -> list[str]:
        return sorted(n.lower() for n in list(self.database(database).tables))

    def database_names(self) -> list[str]:
        return sorted(n.lower() for n in list(self.backend.databases))

    # -- writing -----------------------------------------------------------------------------
    def create_database(self, name: str, description: str | None = None, location: str | None = None):
        db_input: dict[str, Any] = {"Name": name}
        if description:
            db_input["Description"] = description
        if location:
            db_input["LocationUri"] = location
        return self.backend.create_database(name, db_input)

    def drop_database(self, name: str) -> None:
        self.backend.delete_database(self.database(name).name)

    def create_table(self, database: str, table_input: dict) -> None:
        self.backend.create_table(self.database(database).name, table_input["Name"], table_input)

    def drop_table(self, info: TableInfo) -> None:
        self.backend.delete_table(info.database, info.raw.name)

    def add_partition(self, info: TableInfo, values: list[str], location: Location) -> bool:
        """Register a partition; False when one with these values already exists."""
        if str(values) in info.raw.partitions:
            return False
        sd = copy.deepcopy(info.raw.as_dict().get("StorageDescriptor") or {})
        sd["Location"] = location.uri
        info.raw.create_partition({"Values": list(values), "StorageDescriptor": sd})
        return True


def table_info(database: str, raw) -> TableInfo:
    table = raw.as_dict()
    sd = table.get("StorageDescriptor") or {}
    params = dict(table.get("Parameters") or {})
    loc = sd.get("Location")
    return TableInfo(
        database=database.lower(),
        name=raw.name.lower(),
        columns=[Column(c["Name"].lower(), c["Type"]) for c in sd.get("Columns") or []],
        partition_keys=[Column(c["Name"].lower(), c["Type"]) for c in table.get("PartitionKeys") or []],
        location=Location.parse(loc) if loc else None,
        storage=storage_format(sd, params),
        table_type=(table.get("TableType") or "").upper(),
        parameters=params,
        fingerprint=(id(raw), raw._current_version, id(raw.versions.get(str(raw._current_version)))),
        raw=raw,
    )


def check_readable(info: TableInfo, pos: tuple[int, int] | None = None) -> None:
    """Tables Athena could read but the sandbox cannot must fail loudly, never read as empty."""
    if info.table_type == "VIRTUAL_VIEW":
        raise QueryFailed("NOT_SUPPORTED", f"the sandbox does not emulate views ('{info.qualified}')")
    if info.parameters.get("table_type", "").upper() == "ICEBERG":
        raise QueryFailed("NOT_SUPPORTED", f"the sandbox does not emulate Iceberg tables ('{info.qualified}')")
    if info.storage.kind not in ("parquet", "text", "csv", "json"):
        raise QueryFailed("NOT_SUPPORTED", f"the sandbox cannot read {info.storage.kind} data "
                          f"(SerDe '{info.storage.serde or 'none'}') of table '{info.qualified}'")
    if info.location is None:
        raise QueryFailed("HIVE_METASTORE_ERROR", f"Table '{info.qualified}' has no location")
