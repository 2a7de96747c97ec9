"""Running each kind of statement: SELECT, UNLOAD, CTAS, INSERT INTO and the Hive DDL Athena
supports (CREATE EXTERNAL TABLE, ALTER TABLE ADD/DROP PARTITION, MSCK REPAIR TABLE, DROP TABLE,
CREATE/DROP DATABASE, SHOW PARTITIONS/TABLES/DATABASES)."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

from sqlglot import exp

from sandbox.athena import writer
from sandbox.athena.catalog import (
    DEFAULT_CATALOG,
    HIVE_DEFAULT_PARTITION,
    GlueCatalog,
    TableInfo,
    check_readable,
)
from sandbox.athena.datatypes import duck_to_glue, hive_type_text
from sandbox.athena.engine import Engine, Run
from sandbox.athena.errors import QueryFailed, failed, hive_ddl_failed, not_supported
from sandbox.athena.parsing import Statement
from sandbox.athena.relations import sql_ident
from sandbox.athena.results import ResultSet
from sandbox.athena.storage import Location, is_hidden
from sandbox.aws import S3Store

_ALREADY_EXISTS = "Execution Error, return code 1 from org.apache.hadoop.hive.ql.exec.DDLTask. "
_SERDES = {
    "PARQUET": ("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"),
    "TEXTFILE": ("org.apache.hadoop.mapred.TextInputFormat",
                 "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                 "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"),
    "JSON": ("org.apache.hadoop.mapred.TextInputFormat",
             "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
             "org.apache.hive.hcatalog.data.JsonSerDe"),
}


@dataclass
class Outcome:
    result: ResultSet
    manifest: list[str] | None = None  # data files written (UNLOAD / CTAS / INSERT)


@dataclass
class Job:
    """What a statement needs to know about the query running it."""

    query_id: str
    output_location: str | None  # the query result location (no trailing slash)
    workdir: Path


class StatementRunner:
    def __init__(self, engine: Engine, s3: S3Store):
        self.engine = engine
        self.s3 = s3

    def run(self, stmt: Statement, run: Run, job: Job) -> Outcome:
        handler = getattr(self, f"_{stmt.kind}", None)
        if handler is None:
            raise not_supported(stmt.detail.get("what") or f"{stmt.kind} statements")
        return handler(stmt, run, job)

    # -- queries -----------------------------------------------------------------------------
    def _select(self, stmt: Statement, run: Run, job: Job) -> Outcome:
        plan = self.engine.plan(run, stmt.tree, stmt.text, stmt.base, stmt.markers)
        return Outcome(self.engine.query(plan, run))

    def _unload(self, stmt: Statement, run: Run, job: Job) -> Outcome:
        opts = writer.options(stmt.detail["properties"], None)
        target = Location.parse(stmt.detail["target"])
        self._require_empty(target, "UNLOAD", job)
        plan = self.engine.plan(run, stmt.tree, stmt.text, stmt.base, stmt.markers)
        written = writer.write_local(self.engine, run, self.engine.sql_for(plan, run), opts, job.workdir)
        try:
            keys = opts.partitioned_by
            files = writer.upload(self.s3, written, lambda v: _child(target, keys, v), opts)
        finally:
            writer.cleanup(job.workdir)
        return Outcome(ResultSet.count(written.rows), manifest=files)

    def _require_empty(self, target: Location, what: str, job: Job, table: str | None = None) -> None:
        if not self.s3.bucket_exists(target.bucket):
            raise QueryFailed("HIVE_FILESYSTEM_ERROR", f"The specified bucket does not exist: {target.bucket}")
        if self.s3.list(target.bucket, target.prefix):
            subject = f"table '{table}'" if table else what
            raise QueryFailed("HIVE_PATH_ALREADY_EXISTS", f"Target directory for {subject} already exists: "
                              f"{target.uri}. You may need to manually clean the data at location "
                              f"'{target.uri}' before retrying. Athena will not delete data in your account.")

    # -- CTAS / INSERT -----------------------------------------------------------------------
    def _ctas(self, stmt: Statement, run: Run, job: Job) -> Outcome:
        tree: exp.Create = stmt.tree
        db, name = self._target_name(tree.this, run)
        if run.catalog.find_table(db, name) is not None:
            if tree.args.get("exists"):
                return Outcome(ResultSet.count(0))
            raise failed("TABLE_ALREADY_EXISTS", f"Table '{DEFAULT_CATALOG}.{db}.{name}' already exists", (1, 1))
        props = _ctas_properties(tree)
        opts = writer.options(props, "PARQUET")
        location = Location.parse(props.get("external_location") or f"{job.output_location}/tables/{job.query_id}/")
        self._require_empty(location, "CTAS", job, f"{db}.{name}")
        plan = self.engine.plan(run, tree.expression, stmt.text, 0, stmt.markers)
        sql = self.engine.sql_for(plan, run)
        if _no_data(tree):
            sql = f"SELECT * FROM ({sql}) AS __q LIMIT 0"  # noqa: S608 - wraps generated SQL
        written = writer.write_local(self.engine, run, sql, opts, job.workdir)
        try:
            keys = opts.partitioned_by
            files = writer.upload(self.s3, written, lambda v: _child(location, keys, v), opts)
        finally:
            writer.cleanup(job.workdir)
        self._create_ctas_table(run.catalog, db, name, written, opts, location)
        return Outcome(ResultSet.count(written.rows), manifest=files)

    def _target_name(self, table: exp.Expression, run: Run) -> tuple[str, str]:
        if isinstance(table, exp.Schema):
            table = table.this
        db = (table.db or run.database).lower()
        run.catalog.database(db)
        return db, table.name.lower()

    def _create_ctas_table(self, catalog: GlueCatalog, db: str, name: str, written: writer.LocalWrite,
                           opts: writer.Options, location: Location) -> None:
        n_part = len(opts.partitioned_by)
        cols = [{"Name": n.lower(), "Type": duck_to_glue(t)} for n, t in zip(written.names, written.types, strict=True)]
        data_cols, part_cols = cols[:len(cols) - n_part], cols[len(cols) - n_part:]
        input_format, output_format, serde = _SERDES[opts.format]
        serde_params = {"field.delim": opts.delimiter, "serialization.format": opts.delimiter} \
            if opts.format == "TEXTFILE" else {}
        catalog.create_table(db, {
            "Name": name, "TableType": "EXTERNAL_TABLE", "PartitionKeys": part_cols,
            "Parameters": {"EXTERNAL": "TRUE", "has_encrypted_data": "false",
                           "classification": opts.format.lower().replace("textfile", "csv")},
            "StorageDescriptor": {"Columns": data_cols, "Location": location.uri, "InputFormat": input_format,
                                  "OutputFormat": output_format, "Compressed": False,
                                  "SerdeInfo": {"SerializationLibrary": serde, "Parameters": serde_params}},
        })
        if n_part:
            info = catalog.table(db, name)
            for values in written.files:
                catalog.add_partition(info, list(values), _child(location, opts.partitioned_by, values))

    def _insert(self, stmt: Statement, run: Run, job: Job) -> Outcome:
        tree: exp.Insert = stmt.tree
        if isinstance(tree.this, exp.Schema) and tree.this.expressions:
            raise not_supported("INSERT INTO with a column list")
        db, name = self._target_name(tree.this, run)
        info = run.catalog.table(db, name)
        check_readable(info)
        fmt = {"parquet": "PARQUET", "text": "TEXTFILE", "json": "JSON"}.get(info.storage.kind)
        if fmt is None:
            raise not_supported(f"INSERT INTO a {info.storage.kind} table")
        delim = info.storage.serde_param("field.delim", "\x01") or "\x01"
        opts = writer.Options(fmt, None, delim, [k.name for k in info.partition_keys])
        plan = self.engine.plan(run, tree.expression, stmt.text, 0, stmt.markers)
        sql = _cast_to_table(self.engine.sql_for(plan, run), plan.names, info)
        written = writer.write_local(self.engine, run, sql, opts, job.workdir)
        try:
            files = writer.upload(self.s3, written, lambda v: self._partition_location(run, info, v), opts)
        finally:
            writer.cleanup(job.workdir)
        return Outcome(ResultSet.count(written.rows), manifest=files)

    def _partition_location(self, run: Run, info: TableInfo, values: tuple) -> Location:
        if not info.partitioned:
            return info.location
        for part in info.partitions():
            if part.values == values and part.location is not None:
                return part.location
        location = _child(info.location, [k.name for k in info.partition_keys], values)
        run.catalog.add_partition(info, [HIVE_DEFAULT_PARTITION if v is None else v for v in values], location)
        return location

    # -- Hive DDL ----------------------------------------------------------------------------
    def _create_database(self, stmt: Statement, run: Run, job: Job) -> Outcome:
        tree: exp.Create = stmt.tree
        name = tree.this.name.lower()
        if run.catalog.find_database(name) is not None:
            if tree.args.get("exists"):
                return Outcome(ResultSet.text([]))
            raise hive_ddl_failed(f"{_ALREADY_EXISTS}Database {name} already exists")
        props = {type(p): p for p in (tree.args.get("properties") or exp.Properties()).expressions}
        comment = props.get(exp.SchemaCommentProperty)
        location = props.get(exp.LocationProperty)
        run.catalog.create_database(name, comment.name if comment else None, location.name if location else None)
        return Outcome(ResultSet.text([]))

    def _drop_database(self, stmt: Statement, run: Run, job: Job) -> Outcome:
        name = stmt.detail["name"][-1]
        db = run.catalog.find_database(name)
        if db is None:
            if stmt.detail["if_exists"]:
                return Outcome(ResultSet.text([]))
            raise hive_ddl_failed(f"SemanticException [Error 10072]: Database does not exist: {name}")
        if db.tables and not stmt.detail["cascade"]:
            raise hive_ddl_failed(f"{_ALREADY_EXISTS}InvalidOperationException(message:Database {name} is not "
                                  "empty. One or more tables exist.)")
        run.catalog.drop_database(name)
        return Outcome(ResultSet.text([]))

    def _create_table(self, stmt: Statement, run: Run, job: Job) -> Outcome:
        tree: exp.Create = stmt.tree
        db, name = self._target_name(tree.this, run)
        if run.catalog.find_table(db, name) is not None:
            if tree.args.get("exists"):
                return Outcome(ResultSet.text([]))
            raise hive_ddl_failed(f"{_ALREADY_EXISTS}AlreadyExistsException(message:Table {name} already exists)")
        run.catalog.create_table(db, external_table_input(tree, name))
        return Outcome(ResultSet.text([]))

    def _drop_table(self, stmt: Statement, run: Run, job: Job) -> Outcome:
        info = self._hive_table(stmt.detail["name"], run, missing_ok=stmt.detail["if_exists"])
        if info is not None:
            run.catalog.drop_table(info)  # external tables: the data stays in S3, as in Athena
        return Outcome(ResultSet.text([]))

    def _hive_table(self, name: list[str], run: Run, missing_ok: bool = False) -> TableInfo | None:
        db = name[-2] if len(name) > 1 else run.database
        info = run.catalog.find_table(db, name[-1])
        if info is None and not missing_ok:
            raise QueryFailed(None, f"FAILED: SemanticException [Error 10001]: Table not found {db}.{name[-1]}",
                              error_type=1301)
        return info

    def _add_partition(self, stmt: Statement, run: Run, job: Job) -> Outcome:
        info = self._hive_table(stmt.detail["name"], run)
        specs = [(_spec_values(info, s["values"]), s["location"]) for s in stmt.detail["partitions"]]
        existing = {p.values for p in info.partitions()}
        if not stmt.detail["if_not_exists"] and any(tuple(v) in existing for v, _ in specs):
            raise hive_ddl_failed(f"{_ALREADY_EXISTS}AlreadyExistsException(message:Partition already exists.)")
        keys = [k.name for k in info.partition_keys]
        for values, location in specs:
            loc = Location.parse(location) if location else _child(info.location, keys, tuple(values))
            run.catalog.add_partition(info, values, loc)
        return Outcome(ResultSet.text([]))

    def _drop_partition(self, stmt: Statement, run: Run, job: Job) -> Outcome:
        info = self._hive_table(stmt.detail["name"], run)
        existing = {p.values for p in info.partitions()}
        for spec in stmt.detail["partitions"]:
            values = _spec_values(info, spec["values"])
            if tuple(values) not in existing:
                if stmt.detail["if_exists"]:
                    continue
                shown = ", ".join(f"{k} = '{v}'" for k, v in spec["values"].items())
                raise hive_ddl_failed(f"SemanticException [Error 10006]: Partition not found ({shown})")
            run.catalog.backend.delete_partition(info.database, info.raw.name, values)
        return Outcome(ResultSet.text([]))

    def _msck(self, stmt: Statement, run: Run, job: Job) -> Outcome:
        info = self._hive_table(stmt.detail["name"], run)
        if not info.partitioned:
            return Outcome(ResultSet.text([]))
        keys = [k.name for k in info.partition_keys]
        objects = self.s3.list(info.location.bucket, info.location.prefix) \
            if self.s3.bucket_exists(info.location.bucket) else []
        if not objects:
            return Outcome(ResultSet.text([f"Tables missing on filesystem:\t{info.name}"]))
        found = _partitions_on_storage(info.location, [o.key for o in objects], keys)
        existing = {p.values for p in info.partitions()}
        missing = [v for v in found if v not in existing]
        if not missing:
            return Outcome(ResultSet.text([]))
        names = [f"{info.name}:{writer.hive_path(keys, v)}" for v in missing]
        for values in missing:
            run.catalog.add_partition(info, list(values), _child(info.location, keys, values))
        lines = ["Partitions not in metastore:\t" + "\t".join(names)]
        lines += [f"Repair: Added partition to metastore {n}" for n in names]
        return Outcome(ResultSet.text(lines))

    def _show_partitions(self, stmt: Statement, run: Run, job: Job) -> Outcome:
        info = self._hive_table(stmt.detail["name"], run)
        if not info.partitioned:
            raise hive_ddl_failed(f"{_ALREADY_EXISTS}Table {info.name} is not a partitioned table")
        keys = [k.name for k in info.partition_keys]
        lines = sorted(writer.hive_path(keys, p.values) for p in info.partitions())
        return Outcome(ResultSet.text(lines, "partition"))

    def _show_tables(self, stmt: Statement, run: Run, job: Job) -> Outcome:
        names = run.catalog.table_names(stmt.detail["database"] or run.database)
        return Outcome(ResultSet.text(_like(names, stmt.detail["pattern"]), "tab_name"))

    def _show_databases(self, stmt: Statement, run: Run, job: Job) -> Outcome:
        names = run.catalog.database_names()
        return Outcome(ResultSet.text(_like(names, stmt.detail["pattern"]), "database_name"))


# -- helpers -------------------------------------------------------------------------------------
def _child(location: Location, keys: list[str], values: tuple) -> Location:
    return location.child(writer.hive_path(keys, values)) if keys else location


def _no_data(tree: exp.Create) -> bool:
    props = tree.args.get("properties")
    return bool(props and any(isinstance(p, exp.WithDataProperty) and p.args.get("no")
                              for p in props.expressions))


def _ctas_properties(tree: exp.Create) -> dict:
    props: dict = {}
    for prop in (tree.args.get("properties") or exp.Properties()).expressions:
        if isinstance(prop, exp.FileFormatProperty):
            props["format"] = prop.name
        elif isinstance(prop, exp.PartitionedByProperty):
            props["partitioned_by"] = [e.name for e in prop.this.expressions]
        elif type(prop) is exp.Property:
            value = prop.args.get("value")
            props[prop.name.lower()] = [e.name for e in value.expressions] if isinstance(value, exp.Array) \
                else value.name if value is not None else None
        elif isinstance(prop, exp.LocationProperty):
            props["external_location"] = prop.name
    for unsupported in ("bucketed_by", "bucket_count", "table_type", "vacuum_max_snapshot_age_seconds"):
        if props.get(unsupported):
            raise not_supported(f"CTAS with {unsupported}")
    return props


def _cast_to_table(sql: str, names: list[str], info: TableInfo) -> str:
    cols = info.all_columns
    if len(names) != len(cols):
        raise QueryFailed("TYPE_MISMATCH", f"Insert query has {len(names)} columns but table "
                          f"'{info.qualified}' has {len(cols)}")
    from sandbox.athena.datatypes import glue_to_duck

    items = [f"CAST(__q.{sql_ident(n)} AS {glue_to_duck(c.type)}) AS {sql_ident(c.name)}"
             for n, c in zip(names, cols, strict=True)]
    return f"SELECT {', '.join(items)} FROM ({sql}) AS __q"  # noqa: S608 - quoted identifiers


def _spec_values(info: TableInfo, spec: dict[str, str]) -> list[str]:
    keys = [k.name for k in info.partition_keys]
    if not keys:
        raise hive_ddl_failed(f"SemanticException table is not partitioned but partition spec exists: {spec}")
    extra = [k for k in spec if k.lower() not in keys]
    if extra:
        raise hive_ddl_failed(f"SemanticException [Error 10098]: Non-Partition column appears in the partition "
                              f"specification: {extra[0]}")
    lowered = {k.lower(): v for k, v in spec.items()}
    if len(lowered) != len(keys):
        raise hive_ddl_failed(f"SemanticException partition spec {spec} doesn't contain all ({len(keys)}) "
                              "partition columns")
    return [lowered[k] for k in keys]


def _partitions_on_storage(location: Location, keys_in_s3: list[str], part_keys: list[str]) -> list[tuple]:
    """Hive-style partition folders (``k1=v1/k2=v2/``) that hold at least one data file."""
    pattern = re.compile("/".join(f"{re.escape(k)}=([^/]*)" for k in part_keys) + "/", re.I)
    found: list[tuple] = []
    for key in keys_in_s3:
        rest = key[len(location.prefix):]
        m = pattern.match(rest)
        if not m or is_hidden(rest[m.end():]):
            continue
        values = tuple(None if v == HIVE_DEFAULT_PARTITION else writer.hive_unescape(v) for v in m.groups())
        if values not in found:
            found.append(values)
    return sorted(found, key=lambda v: [x or "" for x in v])


def _like(names: list[str], pattern: str | None) -> list[str]:
    if not pattern:
        return names
    alternatives = [p.strip().lower() for p in pattern.split("|")]
    return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in alternatives)]


def external_table_input(tree: exp.Create, name: str) -> dict:
    """Glue TableInput for ``CREATE EXTERNAL TABLE`` (Hive DDL)."""
    schema = tree.this
    columns = [_glue_column(c) for c in schema.expressions] if isinstance(schema, exp.Schema) else []
    sd: dict = {"Columns": columns, "Compressed": False}
    table: dict = {"Name": name, "TableType": "EXTERNAL_TABLE", "PartitionKeys": [], "StorageDescriptor": sd,
                   "Parameters": {"EXTERNAL": "TRUE"}}
    fmt, serde, serde_params = "TEXTFILE", None, {}
    for prop in (tree.args.get("properties") or exp.Properties()).expressions:
        if isinstance(prop, exp.PartitionedByProperty):
            table["PartitionKeys"] = [_glue_column(c) for c in prop.this.expressions]
        elif isinstance(prop, exp.LocationProperty):
            sd["Location"] = prop.name
        elif isinstance(prop, exp.FileFormatProperty):
            fmt = _stored_as(prop, sd)
        elif isinstance(prop, exp.RowFormatSerdeProperty):
            serde = prop.name
            serde_params.update(_kv(prop.args.get("serde_properties")))
        elif isinstance(prop, exp.RowFormatDelimitedProperty):
            serde_params.update(_delimited(prop))
        elif type(prop) is exp.Property:  # TBLPROPERTIES
            table["Parameters"][prop.name] = prop.args["value"].name
    _apply_format(sd, fmt, serde, serde_params)
    return table


def _glue_column(col: exp.ColumnDef) -> dict:
    out = {"Name": col.name.lower(), "Type": hive_type_text(col.args["kind"])}
    for constraint in col.args.get("constraints") or []:
        if isinstance(constraint.kind, exp.CommentColumnConstraint):
            out["Comment"] = constraint.kind.name
    return out


def _stored_as(prop: exp.FileFormatProperty, sd: dict) -> str:
    if isinstance(prop.this, exp.InputOutputFormat):
        sd["InputFormat"] = prop.this.args["input_format"].name
        sd["OutputFormat"] = prop.this.args["output_format"].name
        return "CUSTOM"
    return {"JSONFILE": "JSON"}.get(prop.name.upper(), prop.name.upper())


def _apply_format(sd: dict, fmt: str, serde: str | None, params: dict) -> None:
    if fmt in _SERDES:
        sd.setdefault("InputFormat", _SERDES[fmt][0])
        sd.setdefault("OutputFormat", _SERDES[fmt][1])
        serde = serde or _SERDES[fmt][2]
    elif fmt not in ("CUSTOM",):
        raise not_supported(f"tables STORED AS {fmt}")
    sd["SerdeInfo"] = {"SerializationLibrary": serde or _SERDES["TEXTFILE"][2], "Parameters": params}


def _kv(node: exp.Expression | None) -> dict:
    return {p.name: p.args["value"].name for p in (node.expressions if node is not None else [])}


def _delimited(prop: exp.RowFormatDelimitedProperty) -> dict:
    params = {}
    for arg, key in (("fields", "field.delim"), ("escaped", "escape.delim"), ("collection_items", "collection.delim"),
                     ("map_keys", "mapkey.delim"), ("lines", "line.delim"), ("null", "serialization.null.format")):
        if prop.args.get(arg) is not None:
            params[key] = prop.args[arg].name
    if "field.delim" in params:
        params["serialization.format"] = params["field.delim"]
    return params
