"""How an Athena query fails: the reason text, ``Status.AthenaError`` and the synchronous API errors.

Two families:

- :class:`QueryFailed` ends a query in ``FAILED``. ``StateChangeReason`` is ``"<NAME>: <message>"``
  the way Athena (Trino) words it, e.g. ``TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.db.t'
  does not exist``; Hive DDL failures carry Hive's own ``FAILED: ...`` text instead.
- :class:`InvalidRequest` is refused by ``StartQueryExecution`` itself (no query is created), which
  is what Athena does for syntax errors (``AthenaErrorCode`` ``MALFORMED_QUERY``).

``ErrorType`` numbers are the ones real Athena was measured to return for these error names
(see the Athena error catalog); names that were never measured get 1000 ("User error").
"""

from __future__ import annotations

from sandbox.protocol import AwsError

# Error name -> Athena ErrorType. Measured against Athena by the athena-local project (2026-09):
# TABLE/SCHEMA_NOT_FOUND 1301, COLUMN_NOT_FOUND and CATALOG_NOT_FOUND 1006, TYPE_MISMATCH 1002,
# FUNCTION_NOT_FOUND 1303, DIVISION_BY_ZERO 1001, INVALID_CAST_ARGUMENT and INVALID_PARAMETER_USAGE
# 1100, NOT_SUPPORTED 1200, INVALID_FUNCTION_ARGUMENT 1106. The rest follow the catalog's wording.
ERROR_TYPES = {
    "TABLE_NOT_FOUND": 1301,
    "SCHEMA_NOT_FOUND": 1301,
    "COLUMN_NOT_FOUND": 1006,
    "CATALOG_NOT_FOUND": 1006,
    "SYNTAX_ERROR": 1006,
    "TYPE_MISMATCH": 1002,
    "FUNCTION_NOT_FOUND": 1303,
    "DIVISION_BY_ZERO": 1001,
    "NUMERIC_VALUE_OUT_OF_RANGE": 1001,
    "HIVE_BAD_DATA": 1001,
    "HIVE_CANNOT_OPEN_SPLIT": 1001,
    "HIVE_INVALID_PARTITION_VALUE": 1001,
    "INVALID_CAST_ARGUMENT": 1100,
    "INVALID_PARAMETER_USAGE": 1100,
    "INVALID_FUNCTION_ARGUMENT": 1106,
    "INVALID_TABLE_PROPERTY": 1103,
    "NOT_SUPPORTED": 1200,
    "HIVE_PATH_ALREADY_EXISTS": 1000,
    "TABLE_ALREADY_EXISTS": 1000,
    "DDL": 1003,
}

CATEGORY_SYSTEM, CATEGORY_USER, CATEGORY_OTHER = 1, 2, 3


class QueryFailed(Exception):
    """The query ends in FAILED with this reason."""

    def __init__(self, name: str | None, message: str, *, error_type: int | None = None,
                 category: int = CATEGORY_USER, retryable: bool = False):
        self.name = name
        self.message = message
        self.error_type = error_type if error_type is not None else ERROR_TYPES.get(name or "", 1000)
        self.category = category
        self.retryable = retryable
        super().__init__(self.reason)

    @property
    def reason(self) -> str:
        return f"{self.name}: {self.message}" if self.name else self.message

    def athena_error(self) -> dict:
        return {"ErrorCategory": self.category, "ErrorType": self.error_type,
                "Retryable": self.retryable, "ErrorMessage": self.reason}


def failed(name: str, message: str, pos: tuple[int, int] | None = None) -> QueryFailed:
    """A user error worded the Trino way: ``NAME: line L:C: message`` (position when known)."""
    return QueryFailed(name, f"{at(pos)}{message}")


def hive_ddl_failed(message: str) -> QueryFailed:
    """Athena runs Hive DDL (ALTER TABLE ... PARTITION, MSCK, ...) through Hive, whose errors read
    ``FAILED: ...`` with no Trino error name."""
    return QueryFailed(None, f"FAILED: {message}", error_type=ERROR_TYPES["DDL"])


def not_supported(what: str) -> QueryFailed:
    return QueryFailed("NOT_SUPPORTED", f"the sandbox does not emulate {what}")


def internal(message: str) -> QueryFailed:
    return QueryFailed("GENERIC_INTERNAL_ERROR", message, error_type=200, category=CATEGORY_SYSTEM)


def at(pos: tuple[int, int] | None) -> str:
    return f"line {pos[0]}:{pos[1]}: " if pos else ""


def position(sql: str, offset: int | None, base: int = 0) -> tuple[int, int] | None:
    """1-based (line, column) of a character offset, shifted by ``base`` (for statements whose
    text is a slice of the query, like the SELECT inside UNLOAD)."""
    if offset is None:
        return None
    offset += base
    line = sql.count("\n", 0, offset) + 1
    col = offset - (sql.rfind("\n", 0, offset) + 1) + 1
    return line, col


class InvalidRequest(AwsError):
    """Refused by the API call itself, as InvalidRequestException with an ``AthenaErrorCode``."""

    def __init__(self, message: str, athena_code: str = "INVALID_INPUT"):
        super().__init__("InvalidRequestException", message, 400)
        self.athena_code = athena_code
        # botocore exposes modelled error members (AthenaErrorCode) when the body carries them.
        self.extra = {"AthenaErrorCode": athena_code, "ErrorCode": athena_code}


def malformed(message: str) -> InvalidRequest:
    return InvalidRequest(message, "MALFORMED_QUERY")
