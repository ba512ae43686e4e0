"""Audit rows for sign-in events and for changes to what an account may do. Connected in CrmConfig.ready.

These are record-keeping only (DESIGN: no workflow hides in signals): they write the audit trail for
events that Django and django-axes raise from their own code, where no service of ours runs.
"""

from __future__ import annotations

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import m2m_changed, post_save, pre_save
from django.dispatch import receiver

from crm.models import User
from crm.services import accounts

# What decides an account's reach: a change to any of these is audited.
WATCHED_FIELDS = ("role", "member_id", "is_active", "is_staff", "is_superuser")
WATCHED_RELATIONS = {
    "regions": "regions",
    "branches": "branches",
    "groups": "groups",
    "user_permissions": "permissions",
}


@receiver(user_logged_in)
def audit_sign_in(sender, request, user, **kwargs):
    accounts.record_sign_in(request=request, user=user)


@receiver(user_login_failed)
def audit_failed_sign_in(sender, credentials, request=None, **kwargs):
    accounts.record_failed_sign_in(request=request, username=str(credentials.get("username", "")))


@receiver(user_locked_out)
def audit_lockout(sender, request, username, ip_address, **kwargs):
    accounts.record_lockout(request=request, username=str(username or ""))


@receiver(pre_save, sender=User)
def remember_account_reach(sender, instance: User, raw=False, **kwargs):
    if raw or instance.pk is None:
        return
    before = User.objects.filter(pk=instance.pk).values(*WATCHED_FIELDS).first()
    instance._reach_before = before


@receiver(post_save, sender=User)
def audit_account_reach(sender, instance: User, created: bool, raw=False, **kwargs):
    before = getattr(instance, "_reach_before", None)
    instance._reach_before = None
    if raw or created or before is None:
        return
    changes = {
        field: [before[field], getattr(instance, field)]
        for field in WATCHED_FIELDS
        if before[field] != getattr(instance, field)
    }
    if changes:
        accounts.record_account_change(
            user=instance, changes=changes, summary=f"Account changed: {', '.join(sorted(changes))}"
        )


def _audit_relation(name: str, label: str):
    def handler(sender, instance, action, pk_set, reverse=False, **kwargs):
        if reverse or not isinstance(instance, User) or action not in {"post_add", "post_remove", "post_clear"}:
            return
        verb = {"post_add": "added", "post_remove": "removed", "post_clear": "cleared"}[action]
        ids = sorted(pk_set or [])
        accounts.record_account_change(
            user=instance, changes={label: {verb: ids}}, summary=f"Account {label} {verb}: {ids or 'all'}"
        )

    handler.__name__ = f"audit_{name}"
    return handler


_relation_handlers = []
for _name, _label in WATCHED_RELATIONS.items():
    _handler = _audit_relation(_name, _label)
    _relation_handlers.append(_handler)  # keep a strong reference: signals hold weak ones by default
    m2m_changed.connect(_handler, sender=getattr(User, _name).through, dispatch_uid=f"crm-audit-user-{_name}")
