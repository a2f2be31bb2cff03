"""The JSON API: django-ninja routers over clinic services; OpenAPI at /api/docs.

Routes are thin: a schema parses the input, the access gate (touchup.clinic.access)
fetches the object or refuses, a service (touchup.clinic.services) writes, a schema
shapes the output. See docs/api.md.
"""

from ninja import NinjaAPI

from . import errors
from .auth import AUTH, docs_guard
from .auth import router as auth_router
from .catalogue import router as catalogue_router
from .observations import router as observations_router
from .patients import router as patients_router
from .photos import router as photos_router
from .screenings import router as screenings_router
from .treatments import router as treatments_router
from .vials import router as vials_router

api = NinjaAPI(
    title="Touchup API",
    version="1",
    description=(
        "Screening, charting, follow-up photos and vial stock for botulinum-toxin clinics. "
        "Authenticate with the staff login's session (CSRF token on unsafe methods) "
        "or a personal token: `Authorization: Bearer tu_...`. See docs/api.md."
    ),
    auth=AUTH,
    urls_namespace="api",
    docs_decorator=docs_guard,
)
errors.install(api)

api.add_router("/", auth_router)
api.add_router("/", patients_router)
api.add_router("/", screenings_router)
api.add_router("/", treatments_router)
api.add_router("/", vials_router)
api.add_router("/", catalogue_router)
api.add_router("/", observations_router)
api.add_router("/", photos_router)
