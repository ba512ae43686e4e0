"""Request limits per signed-in user and per API token (rates from settings, read on each request)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


@pytest.fixture
def rates(settings):
    def set_rates(**rates: str) -> None:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
        }

    return set_rates


def test_each_user_has_their_own_allowance(api_as, union, rates):
    rates(**{"api-user": "3/minute"})
    organiser = api_as("organiser_north")
    url = reverse("api:member-list")
    assert [organiser.get(url).status_code for _ in range(3)] == [200, 200, 200]
    refused = organiser.get(url)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert api_as("national").get(url).status_code == 200  # somebody else is not slowed down


def test_each_token_has_its_own_allowance(union, rates):
    rates(**{"api-user": "100/minute", "api-token-client": "2/minute"})
    token = Token.objects.create(user=union.users.organiser_north)
    script = APIClient()
    script.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    url = reverse("api:region-list")
    assert [script.get(url).status_code for _ in range(3)] == [200, 200, 429]
    # The same person in the browser (a session, not the token) still has their own allowance.
    browser = APIClient()
    browser.force_login(union.users.organiser_north)
    assert browser.get(url).status_code == 200


def test_the_default_rates_are_set():
    from django.conf import settings

    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert set(rates) == {"api-user", "api-token-client", "api-token"}
    assert all(rate and "/" in rate for rate in rates.values())
