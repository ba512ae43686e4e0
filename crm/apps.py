from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "Members and structure"

    def ready(self) -> None:
        from crm import webhooks  # noqa: F401  (connects the email provider's tracking events)
