from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "Members and structure"

    def ready(self) -> None:
        from crm import (
            signals,  # noqa: F401  (connects the audit of sign-ins and account changes)
            webhooks,  # noqa: F401  (connects the email provider's tracking events)
        )
