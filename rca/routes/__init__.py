"""HTTP routes of the RCA domain: pages, the overview's forms and the JSON API."""

from rca.routes.api import RcaApiController
from rca.routes.edits import RcaEditController
from rca.routes.pages import RcaPagesController

HANDLERS: list[object] = [RcaPagesController, RcaEditController, RcaApiController]
