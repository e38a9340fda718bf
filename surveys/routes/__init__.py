"""HTTP routes of the surveys domain: the public survey page, staff results, invitations and
administration pages, and the results API."""

from surveys.routes.admin import SurveyAdminController
from surveys.routes.api import SurveyApiController
from surveys.routes.pages import SurveyPagesController
from surveys.routes.public import PublicSurveyController

HANDLERS = [PublicSurveyController, SurveyPagesController, SurveyAdminController, SurveyApiController]
