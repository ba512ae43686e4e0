"""Serializer fields the API needs beyond DRF's own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Model, QuerySet
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import build_choice_field
from rest_framework import serializers

from crm.models import User

# A scope selector from crm.selectors: the objects of one kind that a user may see.
Scope = Callable[[User], QuerySet]


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A related id chosen from the caller's scope, so an out-of-scope id is rejected exactly like a missing one.

    `model` is only there so the schema knows the id's type; the choices always come from `scope(user)`.
    """

    def __init__(self, *, model: type[Model], scope: Scope, **kwargs: Any) -> None:
        self.scope = scope
        kwargs.setdefault("queryset", model._default_manager.none())
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is None:
            return super().get_queryset().none()
        return self.scope(user)


class NamedChoiceField(serializers.ChoiceField):
    """A choice field whose choice set is a named component in the OpenAPI schema.

    Used where two choice sets share a field name (employer `kind`, position `kind`) or one choice set has
    two field names (email and SMS consent sources); left alone, the schema generator warns about both.
    """

    def __init__(self, *, enum_name: str, **kwargs: Any) -> None:
        self.enum_name = enum_name
        super().__init__(**kwargs)


class NamedChoiceFieldExtension(OpenApiSerializerFieldExtension):
    target_class = NamedChoiceField
    match_subclasses = True

    def get_name(self) -> str:
        return self.target.enum_name

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema = build_choice_field(self.target)
        schema.pop("x-spec-enum-id", None)
        return schema
