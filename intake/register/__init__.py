"""Bring an existing register of AI use cases into the hub, and export the hub as a register.

`tables` reads CSV, JSONL and XLSX and writes CSV and JSONL; `mapping` turns a row into a use case's
fields; `presets` knows OMB's federal inventory and Hubspoke's own export; `service` runs an import
or an export in a unit of work.
"""

from intake.register.mapping import FIELDS, Mapping, RowError
from intake.register.presets import OMB_SOURCE, PRESETS, build_mapping, omb_department
from intake.register.service import (
    IMPORTER_NAME,
    ImportReport,
    Skip,
    export_use_cases,
    import_register,
    write_export,
)
from intake.register.tables import FORMATS, Table, TableError, delimiter_of, detect_format, read_table

__all__ = [
    "FIELDS",
    "FORMATS",
    "IMPORTER_NAME",
    "OMB_SOURCE",
    "PRESETS",
    "ImportReport",
    "Mapping",
    "RowError",
    "Skip",
    "Table",
    "TableError",
    "build_mapping",
    "delimiter_of",
    "detect_format",
    "export_use_cases",
    "import_register",
    "omb_department",
    "read_table",
    "write_export",
]
