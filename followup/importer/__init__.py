"""Bulk import of readings from CSV files and FHIR R4 Bundles, row by row, idempotently.

`read_source` turns a file into numbered rows (parsing only); `Importer.run` stores a batch of rows, each
row all-or-nothing, and reports what was added, what was already there and what was rejected and why;
`followup.importer.command` is the `careloop import readings` front end.
"""

from followup.importer.run import RECENT_WINDOW, Importer, ImportReport, RowProblem
from followup.importer.sources import ImportFileInvalid, PatientKey, Source, SourceRow, read_source

__all__ = ["RECENT_WINDOW", "ImportFileInvalid", "ImportReport", "Importer", "PatientKey", "RowProblem", "Source",
           "SourceRow", "read_source"]
