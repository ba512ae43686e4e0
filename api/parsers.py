"""Request parsing with a hard size limit: a write to this API never needs more than a few kilobytes."""

from __future__ import annotations

import io
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_BODY_BYTES = 64 * 1024


class BoundedJSONParser(JSONParser):
    """JSON bodies up to MAX_BODY_BYTES; anything larger, or nested too deeply to decode, is a 400."""

    max_bytes = MAX_BODY_BYTES

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        raw = stream.read(self.max_bytes + 1)
        if len(raw) > self.max_bytes:
            raise ParseError(f"Request body too large: the limit is {self.max_bytes // 1024} KB.")
        try:
            return super().parse(io.BytesIO(raw), media_type, parser_context)
        except RecursionError as error:
            # json.loads recurses once per nesting level; a deeply nested body must not become a 500.
            raise ParseError("JSON parse error - nested too deeply.") from error
