"""The organising area's models, gathered so crm.models imports them in one line."""

from crm.models.conversations import Assessment, Conversation  # noqa: F401
from crm.models.equalities import EqualitiesAccess, EqualitiesAnswers  # noqa: F401
