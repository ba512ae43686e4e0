"""The OpenAPI schema documents the error answers every endpoint can give, not only the happy path, so
clients (and the schema tests) know what to expect: 401, 403 and 429 everywhere, 404 where an id or a page
number is given, 400 where input is read."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema

DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
FIELD_ERRORS = {
    "type": "object",
    "description": "`{field: [messages]}`, or `{non_field_errors: [messages]}`.",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}
# A body that cannot be read at all (not JSON, too large) is refused before any field is looked at:
# DRF then answers `{detail: message}`, so a 400 is one or the other.
BAD_INPUT = {"anyOf": [FIELD_ERRORS, DETAIL]}


def _json(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


class QuorumAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        extra = {}
        if self.get_auth():
            extra["401"] = _json("Not signed in, or a bad token.", DETAIL)
            extra["403"] = _json("Signed in, but this is not for you.", DETAIL)
        extra["429"] = _json("Too many requests; wait for the time in Retry-After.", DETAIL)
        if "{" in self.path or self._is_list_view():
            # Not JSON when the id is not a number at all: the URL then matches no API route.
            extra["404"] = {"description": "No such object or page, or outside your scope (they look the same)."}
        if self._is_list_view() or self.method in {"POST", "PUT", "PATCH"}:
            extra["400"] = _json("Invalid input or filter value, or a body that is not JSON.", BAD_INPUT)
        for code, body in extra.items():
            responses.setdefault(code, body)
        return responses
