"""Dues: rates, joining online through Stripe Checkout, and each member's dues state kept true by Stripe's events.

Stripe is called outside database transactions (a slow provider must not hold row locks) with idempotency
keys derived from our ids, so a retried call never makes a second customer, price or checkout. Webhook events
are stored once by Stripe's id, then processed in one transaction each by a task; processing an event twice,
or an older event after a newer one, changes nothing (see process_stripe_event).
"""

from __future__ import annotations

import datetime
import secrets
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.errors import NotPermitted, ServiceError
from crm.models import AuditEntry, Member, Message, User
from crm.models.dues import DuesAccount, DuesPayment, StripeEvent, SubscriptionRate
from crm.payments import PaymentsError, get_payments_backend
from crm.permissions import can_manage_member
from crm.phones import normalise_mobile
from crm.services import _audit_value, next_membership_number, record_audit
from crm.services.messages import queue_message

# Fields the public join form may set on an applicant.
JOIN_FIELDS = ("first_name", "last_name", "email", "mobile", "address_line1", "town", "postcode", "workplace", "branch")
MAX_CHECKOUT_ATTEMPTS = 20


class PaymentNotSetUp(ServiceError):
    """Online payment has no provider configured: the applicant is recorded and an organiser follows up."""


# --- Rates ------------------------------------------------------------------------------------------------


def can_edit_rates(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_national)


@transaction.atomic
def save_rate(
    *,
    actor: User,
    category: str,
    pay_band: str,
    monthly_pence: int,
    is_active: bool = True,
    rate: SubscriptionRate | None = None,
) -> SubscriptionRate:
    """Add a rate, or change one. National admins only. A new amount needs a new Stripe Price, so the old
    price id is dropped and the next join at this rate makes one (existing subscriptions keep theirs)."""
    if not can_edit_rates(actor):
        raise NotPermitted("Only national admins set subscription rates.")
    if category not in Member.Category.values:
        raise ServiceError("Choose a membership category from the list.", field="category")
    pay_band = (pay_band or "").strip()
    if not pay_band or len(pay_band) > 60:
        raise ServiceError("Give the pay band a name of up to 60 characters.", field="pay_band")
    if not isinstance(monthly_pence, int) or isinstance(monthly_pence, bool) or not 0 <= monthly_pence <= 100_000:
        raise ServiceError("A monthly rate is a whole number of pence from 0 to 100000.", field="monthly_pence")
    clash = SubscriptionRate.objects.filter(category=category, pay_band=pay_band)
    if rate is not None:
        rate = SubscriptionRate.objects.select_for_update().get(pk=rate.pk)
        clash = clash.exclude(pk=rate.pk)
    if clash.exists():
        raise ServiceError("There is already a rate for this category and pay band.", field="pay_band")
    old = (
        {f: getattr(rate, f) for f in ("category", "pay_band", "monthly_pence", "is_active")}
        if rate is not None
        else None
    )
    if rate is None:
        rate = SubscriptionRate(category=category, pay_band=pay_band, monthly_pence=monthly_pence, is_active=is_active)
    else:
        if rate.monthly_pence != monthly_pence:
            rate.stripe_price_id = ""
        rate.category, rate.pay_band, rate.monthly_pence, rate.is_active = category, pay_band, monthly_pence, is_active
    rate.updated_at = timezone.now()
    rate.save()
    new = {"category": category, "pay_band": pay_band, "monthly_pence": monthly_pence, "is_active": is_active}
    changes = {f: [old[f] if old else None, v] for f, v in new.items() if not old or old[f] != v}
    if changes:
        record_audit(
            actor=actor,
            action=AuditEntry.Action.UPDATE if old else AuditEntry.Action.CREATE,
            target=rate,
            summary=f"{'Changed' if old else 'Added'} subscription rate {rate}",
            changes=changes,
        )
    return rate


def stripe_price_for(rate: SubscriptionRate) -> str:
    """The Stripe Price for a rate's current amount, made once (the key names the rate and amount)."""
    if rate.stripe_price_id:
        return rate.stripe_price_id
    price_id = get_payments_backend().create_price(
        name=f"Membership: {rate.get_category_display()}, {rate.pay_band}",
        monthly_pence=rate.monthly_pence,
        idempotency_key=f"quorum-rate-{rate.pk}-{rate.monthly_pence}p",
    )
    SubscriptionRate.objects.filter(pk=rate.pk, monthly_pence=rate.monthly_pence).update(stripe_price_id=price_id)
    rate.stripe_price_id = price_id
    return price_id


# --- Joining ----------------------------------------------------------------------------------------------


@transaction.atomic
def record_applicant(
    *, details: dict[str, Any], rate: SubscriptionRate, email_consent: bool, sms_consent: bool
) -> Member:
    """An applicant from the public join page, with a dues account at the chosen rate. The applicant has a
    reference in the A-series until they become a member; an exempt rate (0p) needs no payment, and an
    organiser confirms the membership. Raises ServiceError naming the field at fault."""
    unknown = set(details) - set(JOIN_FIELDS)
    if unknown:
        raise ServiceError(f"These fields cannot be set here: {', '.join(sorted(unknown))}.")
    if not rate.is_active:
        raise ServiceError("That rate is no longer offered: choose another.", field="rate")
    cleaned = dict(details)
    if not cleaned.get("email"):
        raise ServiceError("We need an email address to confirm your membership.", field="email")
    try:
        cleaned["mobile"] = normalise_mobile(cleaned.get("mobile") or "")
    except Exception as error:  # ValidationError carries the readable message
        raise ServiceError(getattr(error, "messages", [str(error)])[0], field="mobile") from error
    if sms_consent and not cleaned["mobile"]:
        raise ServiceError("Give a mobile number to get texts, or untick texts.", field="mobile")
    workplace = cleaned.get("workplace")
    if workplace is not None:
        cleaned["branch"] = workplace.branch
        cleaned["employer"] = workplace.employer
        cleaned["sector"] = workplace.sector
    if cleaned.get("branch") is None:
        raise ServiceError("Choose your workplace or, if you have none, your branch.", field="workplace")
    now = timezone.now()
    member = Member(
        **cleaned,
        category=rate.category,
        status=Member.Status.APPLICANT,
        status_changed_on=timezone.localdate(),
        email_consent=email_consent,
        sms_consent=sms_consent,
    )
    for channel, given in (("email", email_consent), ("sms", sms_consent)):
        if given:
            setattr(member, f"{channel}_consent_source", Member.ConsentSource.JOIN_FORM)
            setattr(member, f"{channel}_consent_at", now)
    member.membership_number = "A" + secrets.token_hex(6).upper()
    member.save()
    method = DuesAccount.Method.EXEMPT if rate.monthly_pence == 0 else DuesAccount.Method.STRIPE
    DuesAccount.objects.create(member=member, rate=rate, method=method)
    record_audit(
        actor=None,
        action=AuditEntry.Action.CREATE,
        target=member,
        summary=f"Applied online at {rate}",
        changes={f: [None, _audit_value(getattr(member, f))] for f in (*cleaned, "category", "status")},
    )
    return member


def start_checkout(*, member: Member, success_url: str, cancel_url: str) -> str:
    """Make sure the applicant has a Stripe customer, then open a Checkout session in subscription mode
    (card or Bacs Direct Debit) for their rate. Returns the URL to send them to.

    Raises PaymentNotSetUp without a configured provider, ServiceError if the provider fails (the applicant
    stays recorded and can try again)."""
    backend = get_payments_backend()
    if not backend.is_configured:
        raise PaymentNotSetUp("Online payment is not set up yet.")
    account = DuesAccount.objects.select_related("rate", "member").get(member=member)
    if member.status != Member.Status.APPLICANT or account.checkout_status == "complete":
        raise ServiceError("This application has already been paid for.")
    if account.rate is None or account.rate.monthly_pence == 0:
        raise ServiceError("This rate needs no payment.")
    if account.checkout_attempts >= MAX_CHECKOUT_ATTEMPTS:
        raise ServiceError("Too many attempts to pay: your branch will contact you.")
    try:
        price_id = stripe_price_for(account.rate)
        customer_id = account.stripe_customer_id or backend.create_customer(
            member_id=member.pk,
            email=member.email,
            name=member.full_name,
            idempotency_key=f"quorum-member-{member.pk}-customer",
        )
        with transaction.atomic():
            account = DuesAccount.objects.select_for_update().get(pk=account.pk)
            account.stripe_customer_id = customer_id
            account.checkout_attempts += 1
            account.save(update_fields=["stripe_customer_id", "checkout_attempts"])
        session = backend.create_checkout_session(
            customer_id=customer_id,
            price_id=price_id,
            member_id=member.pk,
            success_url=success_url,
            cancel_url=cancel_url,
            idempotency_key=f"quorum-member-{member.pk}-checkout-{account.checkout_attempts}",
        )
    except PaymentsError as error:
        raise ServiceError(f"We could not start the payment: {error}") from error
    DuesAccount.objects.filter(pk=account.pk).update(
        checkout_session_id=session.id, checkout_status="open", updated_at=timezone.now()
    )
    return session.url


def portal_url(*, member: Member, return_url: str) -> str:
    """A Stripe customer portal session where the member changes their card or bank details."""
    backend = get_payments_backend()
    if not backend.is_configured:
        raise PaymentNotSetUp("Online payment is not set up.")
    account = DuesAccount.objects.filter(member=member).first()
    if account is None or not account.stripe_customer_id:
        raise ServiceError("You do not pay through Stripe, so there is no payment method to manage.")
    try:
        return backend.create_portal_session(customer_id=account.stripe_customer_id, return_url=return_url)
    except PaymentsError as error:
        raise ServiceError(f"We could not open the payment page: {error}") from error


# --- Payroll and exempt -----------------------------------------------------------------------------------


@transaction.atomic
def set_payment_method(*, actor: User, member: Member, method: str) -> DuesAccount:
    """Mark how a member pays. Payroll deduction and exempt members are in good standing without Stripe, so
    their arrears are cleared; a Stripe subscription they still have is cancelled once this commits."""
    member = Member.objects.select_for_update().get(pk=member.pk)
    if not can_manage_member(actor, member):
        raise NotPermitted("You cannot change this member.")
    if method not in DuesAccount.Method.values:
        raise ServiceError("Choose a payment method from the list.", field="method")
    account, _ = DuesAccount.objects.select_for_update().get_or_create(member=member)
    if account.method == method:
        return account
    changes = {"dues_method": [account.method, method]}
    account.method = method
    if method != DuesAccount.Method.STRIPE:
        account.arrears_since = None
        if member.has_arrears:
            member.has_arrears = False
            member.save(update_fields=["has_arrears"])
            changes["has_arrears"] = [True, False]
        if account.stripe_subscription_id and account.subscription_status not in ("canceled", "incomplete_expired"):
            from crm.tasks import cancel_stripe_subscription

            transaction.on_commit(lambda: cancel_stripe_subscription.delay(account.pk))
    account.updated_at = timezone.now()
    account.save()
    record_audit(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        target=member,
        summary=f"Dues paid by: {account.get_method_display()}",
        changes=changes,
    )
    return account


@transaction.atomic
def confirm_membership(*, actor: User, member: Member) -> Member:
    """An organiser makes an applicant a member without online payment: exempt (students, retired), payroll
    deduction, or while online payment is not set up. The member gets a number and a welcome, like an online
    join. Raises NotPermitted outside the actor's scope, ServiceError if the member is not an applicant."""
    member = Member.objects.select_for_update().get(pk=member.pk)
    if not can_manage_member(actor, member):
        raise NotPermitted("You cannot change this member.")
    if member.status != Member.Status.APPLICANT:
        raise ServiceError("Only an applicant can be confirmed as a member.")
    account, _ = DuesAccount.objects.get_or_create(member=member)
    lines = {
        DuesAccount.Method.EXEMPT: "You pay no subscription.",
        DuesAccount.Method.PAYROLL: "Your subscription is taken from your pay.",
        DuesAccount.Method.STRIPE: "Your branch will help you set up your subscription.",
    }
    _activate(member, actor=actor, summary="Confirmed as a member", dues_line=lines[account.method])
    return member


def cancel_stripe_subscription(*, account_id: int) -> str:
    """Cancel the Stripe subscription of a member who no longer pays through Stripe. Safe to run twice:
    the idempotency key names the subscription, and a cancelled one is left alone."""
    account = DuesAccount.objects.get(pk=account_id)
    if account.method == DuesAccount.Method.STRIPE or not account.stripe_subscription_id:
        return "kept"
    if account.subscription_status == "canceled":
        return "canceled"
    status = get_payments_backend().cancel_subscription(
        subscription_id=account.stripe_subscription_id,
        idempotency_key=f"quorum-cancel-{account.stripe_subscription_id}",
    )
    DuesAccount.objects.filter(pk=account.pk).update(subscription_status=status, updated_at=timezone.now())
    return status


# --- Stripe events ----------------------------------------------------------------------------------------


def record_stripe_event(*, event: dict[str, Any]) -> tuple[StripeEvent, bool]:
    """Store a verified event under its Stripe id. Returns (row, created); a replay finds the row already
    there. Raises ServiceError if the event does not have the shape Stripe documents."""
    event_id, kind, created = event.get("id"), event.get("type"), event.get("created")
    data = event.get("data")
    if not (isinstance(event_id, str) and event_id.startswith("evt_") and len(event_id) <= 100):
        raise ServiceError("The event has no Stripe event id.")
    if not (isinstance(kind, str) and 0 < len(kind) <= 100):
        raise ServiceError("The event has no type.")
    if not isinstance(created, int) or isinstance(created, bool) or created <= 0:
        raise ServiceError("The event has no creation time.")
    if not (isinstance(data, dict) and isinstance(data.get("object"), dict)):
        raise ServiceError("The event has no data object.")
    obj = data["object"]
    customer = obj.get("customer") if obj.get("object") != "customer" else obj.get("id")
    customer = customer if isinstance(customer, str) else ""
    try:
        with transaction.atomic():
            return StripeEvent.objects.get_or_create(
                event_id=event_id,
                defaults={
                    "type": kind,
                    "created_at": datetime.datetime.fromtimestamp(created, tz=datetime.UTC),
                    "customer_id": customer[:100],
                    "payload": event,
                },
            )
    except IntegrityError:  # the same event delivered twice at the same moment
        return StripeEvent.objects.get(event_id=event_id), False


def process_stripe_event(*, event_pk: int) -> StripeEvent:
    """Apply one stored event to the member it concerns, once, in one transaction.

    Payments are recorded by invoice and outcome, so a replay adds nothing. A member's standing (arrears or
    not) follows the newest event that speaks to it: an older event delivered late is kept in the history
    but does not undo a newer one. Events for customers we do not know are kept as unmatched for review."""
    mandate_customer = _customer_of_mandate(event_pk)  # a call to Stripe: before the transaction, not in it
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().get(pk=event_pk)
        if event.state != StripeEvent.State.RECEIVED:
            return event
        handler = EVENT_HANDLERS.get(event.type)
        if handler is None:
            event.state = StripeEvent.State.IGNORED
        else:
            if mandate_customer is not None:
                event.customer_id = mandate_customer[:100]  # saved with the event, so the review list shows it
            obj = event.payload["data"]["object"]
            account = _account_for(event, obj)
            if account is None:
                event.state = StripeEvent.State.UNMATCHED
                event.note = "No member has this Stripe customer."
            else:
                event.member = account.member
                event.note = handler(event, obj, account)[:255]
                event.state = StripeEvent.State.PROCESSED
        event.processed_at = timezone.now()
        event.save()
        return event


def _customer_of_mandate(event_pk: int) -> str | None:
    """A mandate names its payment method, not its customer: ask Stripe whose it is. None for other events."""
    event = StripeEvent.objects.filter(pk=event_pk, state=StripeEvent.State.RECEIVED).first()
    if event is None or not event.type.startswith("mandate."):
        return None
    method = event.payload["data"]["object"].get("payment_method")
    backend = get_payments_backend()
    if not isinstance(method, str) or not backend.is_configured:
        return ""
    try:
        return backend.customer_of_payment_method(method)
    except PaymentsError:
        return ""


def _account_for(event: StripeEvent, obj: dict) -> DuesAccount | None:
    accounts = DuesAccount.objects.select_for_update(of=("self",)).select_related("member", "rate")
    if event.customer_id:
        account = accounts.filter(stripe_customer_id=event.customer_id).first()
        if account is not None:
            return account
    # A checkout we opened: its session id was stored when we made it.
    if event.type.startswith("checkout.session.") and isinstance(obj.get("id"), str):
        return accounts.filter(checkout_session_id=obj["id"]).first()
    return None


def _is_newest(account: DuesAccount, event: StripeEvent) -> bool:
    """Whether this event is at least as new as the last one that set the member's standing."""
    return account.standing_event_at is None or event.created_at >= account.standing_event_at


def _save_member(member: Member, changes: dict[str, list], summary: str) -> None:
    if not changes:
        return
    member.save()
    record_audit(actor=None, action=AuditEntry.Action.UPDATE, target=member, summary=summary, changes=changes)


def _on_checkout_completed(event: StripeEvent, obj: dict, account: DuesAccount) -> str:
    if isinstance(obj.get("customer"), str) and not account.stripe_customer_id:
        account.stripe_customer_id = obj["customer"]
    if isinstance(obj.get("subscription"), str):
        account.stripe_subscription_id = obj["subscription"]
    account.checkout_status = "complete"
    account.updated_at = timezone.now()
    account.save()
    member = Member.objects.select_for_update().get(pk=account.member_id)
    if member.status != Member.Status.APPLICANT:
        return f"Checkout complete; {member.membership_number} was already {member.get_status_display().lower()}."
    _activate(
        member,
        summary="Joined: payment set up through Stripe",
        dues_line="Your subscription is set up; you can change your card or bank details from your member page.",
    )
    return f"Joined as {member.membership_number}."


def _activate(member: Member, *, actor: User | None = None, summary: str, dues_line: str) -> None:
    """An applicant becomes an active member with a number from the Q-series, and is sent a welcome."""
    old_number, today = member.membership_number, timezone.localdate()
    for attempt in range(5):
        member.membership_number = next_membership_number()
        try:
            with transaction.atomic():
                Member.objects.filter(pk=member.pk).update(membership_number=member.membership_number)
            break
        except IntegrityError as error:
            if attempt == 4:
                raise ServiceError("Could not give the new member a number; try again.") from error
    member.status, member.status_changed_on, member.joined_on = Member.Status.ACTIVE, today, member.joined_on or today
    member.save()
    record_audit(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        target=member,
        summary=summary,
        changes={
            "status": [Member.Status.APPLICANT, Member.Status.ACTIVE],
            "membership_number": [old_number, member.membership_number],
        },
    )
    queue_message(
        member=member,
        channel=Message.Channel.EMAIL,
        basis=Message.Basis.SERVICE,
        key=f"welcome:{member.pk}",
        subject="Welcome to the union",
        body=(
            f"Dear {member.first_name},\n\n"
            f"Welcome to the union. Your membership number is {member.membership_number}.\n"
            f"{dues_line}\n\n"
            "Your branch will be in touch about what is happening where you work.\n"
        ),
    )


def _invoice_amount(obj: dict, field: str) -> int:
    value = obj.get(field)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _on_invoice_paid(event: StripeEvent, obj: dict, account: DuesAccount) -> str:
    member = Member.objects.select_for_update().get(pk=account.member_id)
    invoice_id = str(obj.get("id", ""))[:100]
    DuesPayment.objects.get_or_create(
        stripe_invoice_id=invoice_id,
        outcome=DuesPayment.Outcome.PAID,
        defaults={
            "member": member,
            "amount_pence": _invoice_amount(obj, "amount_paid"),
            "category": member.category,
            "occurred_at": event.created_at,
        },
    )
    if not _is_newest(account, event):
        return f"Recorded {invoice_id} as paid; a newer event already set the standing."
    account.standing_event_at, account.arrears_since, account.updated_at = event.created_at, None, timezone.now()
    account.save()
    changes: dict[str, list] = {}
    if member.has_arrears:
        member.has_arrears = False
        changes["has_arrears"] = [True, False]
    if member.status == Member.Status.LAPSED:
        member.status, member.status_changed_on = Member.Status.ACTIVE, timezone.localdate()
        changes["status"] = [Member.Status.LAPSED, Member.Status.ACTIVE]
    _save_member(member, changes, "Dues paid: back in good standing")
    return f"Recorded {invoice_id} as paid."


def _on_invoice_failed(event: StripeEvent, obj: dict, account: DuesAccount) -> str:
    member = Member.objects.select_for_update().get(pk=account.member_id)
    invoice_id = str(obj.get("id", ""))[:100]
    attempts = obj.get("attempt_count") if isinstance(obj.get("attempt_count"), int) else 1
    retry = obj.get("next_payment_attempt")
    reason = (
        f"Stripe tries again on {datetime.datetime.fromtimestamp(retry, tz=datetime.UTC):%d %b %Y}."
        if isinstance(retry, int) and not isinstance(retry, bool) and retry > 0
        else "No further automatic attempts."
    )
    payment, created = DuesPayment.objects.get_or_create(
        stripe_invoice_id=invoice_id,
        outcome=DuesPayment.Outcome.FAILED,
        defaults={
            "member": member,
            "amount_pence": _invoice_amount(obj, "amount_due"),
            "category": member.category,
            "attempts": max(attempts, 1),
            "reason": reason,
            "occurred_at": event.created_at,
        },
    )
    if not created and attempts > payment.attempts:
        payment.attempts, payment.reason = attempts, reason
        payment.occurred_at = max(payment.occurred_at, event.created_at)
        payment.save(update_fields=["attempts", "reason", "occurred_at"])
    if account.method != DuesAccount.Method.STRIPE:
        return f"Recorded failed payment {invoice_id}; the member no longer pays through Stripe."
    already_paid = DuesPayment.objects.filter(stripe_invoice_id=invoice_id, outcome=DuesPayment.Outcome.PAID).exists()
    if already_paid or not _is_newest(account, event):
        return f"Recorded failed payment {invoice_id}; a newer event already set the standing."
    _fall_into_arrears(account, member, event, "Dues payment failed: in arrears")
    return f"Recorded failed payment {invoice_id}; in arrears."


def _fall_into_arrears(account: DuesAccount, member: Member, event: StripeEvent, summary: str) -> None:
    account.standing_event_at, account.updated_at = event.created_at, timezone.now()
    if account.arrears_since is None:
        account.arrears_since = timezone.localtime(event.created_at).date()
    account.save()
    if not member.has_arrears:
        member.has_arrears = True
        _save_member(member, {"has_arrears": [False, True]}, summary)


def _on_subscription_changed(event: StripeEvent, obj: dict, account: DuesAccount) -> str:
    subscription_id, status = str(obj.get("id", ""))[:100], str(obj.get("status", ""))[:30]
    if account.stripe_subscription_id and account.stripe_subscription_id != subscription_id:
        return f"Subscription {subscription_id} is not the member's current one; left alone."
    account.stripe_subscription_id = subscription_id
    if _is_newest(account, event) or not account.subscription_status:
        account.subscription_status = status
    account.updated_at = timezone.now()
    account.save()
    if event.type == "customer.subscription.deleted" and account.method == DuesAccount.Method.STRIPE:
        member = Member.objects.select_for_update().get(pk=account.member_id)
        if member.status == Member.Status.ACTIVE and _is_newest(account, event):
            # No subscription means no dues coming: the grace period starts now.
            _fall_into_arrears(account, member, event, "Stripe subscription cancelled: in arrears")
            return f"Subscription {subscription_id} cancelled; in arrears."
    return f"Subscription {subscription_id} is {status}."


def _on_mandate_updated(event: StripeEvent, obj: dict, account: DuesAccount) -> str:
    account.mandate_status = str(obj.get("status", ""))[:30]
    account.updated_at = timezone.now()
    account.save()
    return f"Direct Debit mandate is {account.mandate_status}."


def _on_checkout_ended(event: StripeEvent, obj: dict, account: DuesAccount) -> str:
    if account.checkout_status != "complete" and obj.get("id") == account.checkout_session_id:
        account.checkout_status = "expired" if event.type == "checkout.session.expired" else "payment_failed"
        account.save(update_fields=["checkout_status"])
    return f"Checkout {account.checkout_status}; the applicant stays an applicant."


EVENT_HANDLERS = {
    "checkout.session.completed": _on_checkout_completed,
    "checkout.session.expired": _on_checkout_ended,
    "checkout.session.async_payment_failed": _on_checkout_ended,
    "invoice.paid": _on_invoice_paid,
    "invoice.payment_succeeded": _on_invoice_paid,
    "invoice.payment_failed": _on_invoice_failed,
    "customer.subscription.created": _on_subscription_changed,
    "customer.subscription.updated": _on_subscription_changed,
    "customer.subscription.deleted": _on_subscription_changed,
    "mandate.updated": _on_mandate_updated,
}


# --- The grace period -------------------------------------------------------------------------------------


def lapse_members_past_grace(*, on: datetime.date | None = None) -> int:
    """Lapse active members paying through Stripe who have been in arrears longer than DUES_GRACE_DAYS.
    Each member is lapsed in a transaction of their own, under a row lock; a second run finds none left."""
    on = on or timezone.localdate()
    cutoff = on - datetime.timedelta(days=settings.DUES_GRACE_DAYS)
    candidates = list(
        DuesAccount.objects.filter(
            method=DuesAccount.Method.STRIPE,
            arrears_since__lt=cutoff,
            member__status=Member.Status.ACTIVE,
            member__has_arrears=True,
        ).values_list("member_id", flat=True)
    )
    lapsed = 0
    for member_id in candidates:
        with transaction.atomic():
            member = Member.objects.select_for_update().get(pk=member_id)
            if member.status != Member.Status.ACTIVE or not member.has_arrears:
                continue
            member.status, member.status_changed_on = Member.Status.LAPSED, on
            _save_member(
                member,
                {"status": [Member.Status.ACTIVE, Member.Status.LAPSED]},
                f"Lapsed: in arrears for more than {settings.DUES_GRACE_DAYS} days",
            )
            lapsed += 1
    return lapsed
