"""Content Security Policy (Django 6.0+): with Django's CSP middleware and a policy that allows
inline code by nonce only, the unlock page's inline style and script carry the response's
nonce; without the ``csp`` context processor (and on Django 5.2) they carry none."""

from __future__ import annotations

import re

import django
import pytest

from tests.views.test_unlock import ask

pytestmark = pytest.mark.django_db


@pytest.fixture
def strict_csp(settings):
    from django.utils.csp import CSP

    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "django.middleware.csp.ContentSecurityPolicyMiddleware",
    ]
    settings.SECURE_CSP = {
        "default-src": [CSP.SELF],
        "script-src": [CSP.SELF, CSP.NONCE],
        "style-src": [CSP.SELF, CSP.NONCE],
    }
    [engine] = settings.TEMPLATES
    options = engine["OPTIONS"]
    processors = [*options["context_processors"], "django.template.context_processors.csp"]
    settings.TEMPLATES = [{**engine, "OPTIONS": {**options, "context_processors": processors}}]


def nonces(response, tag):
    return re.findall(rf'<{tag} nonce="([^"]+)">', response.content.decode())


@pytest.mark.skipif(django.VERSION < (6, 0), reason="Django's CSP support is new in 6.0")
def test_no_inline_style_and_the_script_carries_the_policy_nonce(
    strict_csp, client, protected_page, buyer
):
    response = client.get(protected_page.url)
    html = response.content.decode()
    # The package's CSS is a stylesheet of this site ('self'), not an inline style.
    assert "<style" not in html and " style=" not in html
    assert '<link rel="stylesheet" href="/static/wagtail_member_access/member-access.css">' in html
    # After a code is sent, the page counts down to "send again" with an inline script.
    ask(client, protected_page, "ana@example.com")
    response = client.get(protected_page.url)
    [script_nonce] = nonces(response, "script")
    assert f"'nonce-{script_nonce}'" in response["Content-Security-Policy"]


def test_without_the_context_processor_no_nonce_is_rendered(client, protected_page, buyer):
    ask(client, protected_page, "ana@example.com")
    response = client.get(protected_page.url)
    assert "<script>" in response.content.decode()
    assert "nonce=" not in response.content.decode()
