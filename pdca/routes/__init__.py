"""HTTP routes of the PDCA domain: the board, projects and measures, cycles, and the SPC API."""

from pdca.routes.api import SpcApiController
from pdca.routes.board import BoardController
from pdca.routes.cycles import CyclePagesController
from pdca.routes.projects import ProjectPagesController

HANDLERS = [BoardController, ProjectPagesController, CyclePagesController, SpcApiController]
