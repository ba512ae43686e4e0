"""Domain errors raised by services: each carries a message a person can read."""


class ServiceError(Exception):
    """A workflow refused to run. `field` names the input at fault, where there is one."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotPermitted(ServiceError):
    """The acting user may not do this (or may not see the object at all)."""
