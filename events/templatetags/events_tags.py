"""The training-and-events panel on the member page (crm's member_detail.html includes it in one line)."""

from django import template

from events import selectors

register = template.Library()


@register.inclusion_tag("events/_member_panel.html")
def member_training_panel(member, user):
    # The member page has already checked that `user` may see `member`; access needs are never shown here.
    return {
        "member": member,
        "user": user,
        "certifications": selectors.certifications_of(member),
        "training_status": selectors.training_status_of(member),
        "attendance": selectors.attendance_of(member, limit=10, viewer=user),
    }
