"""Reading pages for patients, caregivers and staff (history, entry form, confirmation)."""

from followup.routes.readings.pages import MyReadingsController, PatientReadingsController

HANDLERS: list[object] = [MyReadingsController, PatientReadingsController]
