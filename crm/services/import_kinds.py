"""Which import services handle a kind of import: members (crm.services.imports) or workplaces
(crm.services.workplace_imports). Both modules offer the same steps under the same names (start_import,
check_import, confirm_import, run_import) and their FIELD_LABELS, so pages, the API and the command pick one
here and call it, rather than branching on the kind at every step."""

from __future__ import annotations

from types import ModuleType

from crm.errors import ServiceError
from crm.models import ImportJob
from crm.services import imports, workplace_imports

SERVICES: dict[str, ModuleType] = {
    ImportJob.Kind.MEMBERS: imports,
    ImportJob.Kind.WORKPLACES: workplace_imports,
}


def services_for(kind: str) -> ModuleType:
    """The import services for a kind of import; raises ServiceError for a kind there is none of."""
    try:
        return SERVICES[kind]
    except KeyError as error:
        kinds = " or ".join(SERVICES)
        raise ServiceError(f"'{kind}' is not a kind of import: choose {kinds}.", field="kind") from error
