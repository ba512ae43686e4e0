from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The member portal: a member's own pages. Views only; the workflows stay in crm, events and elections."""

    name = "portal"
    verbose_name = "Member portal"
