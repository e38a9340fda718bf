"""HTTP routes of the clinic domain: sign-in pages, patient pages, staff administration and the API."""

from clinic.routes.api import PatientApiController
from clinic.routes.auth import AuthController
from clinic.routes.pages import PatientPagesController, StaffAdminController

HANDLERS = [AuthController, PatientPagesController, StaffAdminController, PatientApiController]
