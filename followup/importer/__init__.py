"""Bulk import of readings from CSV files and FHIR R4 Bundles, checked row by row, stored in bulk, idempotently.

`read_source` turns a file into numbered rows (parsing only); `Importer.run` checks a batch of rows, each
row all-or-nothing, writes the good ones in one bulk statement (`followup.importer.store`), and reports what
was added, what was already there and what was rejected and why; `followup.importer.command` is the
`careloop import readings` front end. Common rows take a shortcut (`followup.importer.quick`) that gives what the
general checks give; every other row, and every rejection, goes through the general checks.
"""

from followup.importer.run import RECENT_WINDOW, CheckedBatch, Importer, ImportReport, RowProblem
from followup.importer.sources import ImportFileInvalid, PatientKey, Source, SourceRow, open_source, read_source

__all__ = ["RECENT_WINDOW", "CheckedBatch", "ImportFileInvalid", "ImportReport", "Importer", "PatientKey", "RowProblem",
           "Source", "SourceRow", "open_source", "read_source"]
