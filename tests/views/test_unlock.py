import pytest
from django.urls import reverse

from tests.conftest import code_from

pytestmark = pytest.mark.django_db


def request_url(page):
    return reverse("wagtail_member_access:request_code", args=[page.pk])


def verify_url(page):
    return reverse("wagtail_member_access:verify_code", args=[page.pk])


def test_protected_page_renders_unlock_form_in_place(client, protected_page):
    response = client.get(protected_page.url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Secret body" not in html
    assert 'type="email"' in html
    assert "private" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
    assert "Cookie" in response["Vary"]


def test_full_code_flow(client, protected_page, buyer, mailoutbox):
    response = client.post(request_url(protected_page), {"email": " Ana@Example.com ", "next": protected_page.url})
    assert response.status_code == 303
    assert response["Location"] == protected_page.url
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["ana@example.com"]
    code = code_from(message)
    page = client.get(protected_page.url)
    assert 'autocomplete="one-time-code"' in page.content.decode()
    assert 'inputmode="numeric"' in page.content.decode()
    response = client.post(verify_url(protected_page), {"code": code, "next": protected_page.url})
    assert response.status_code == 303
    assert response["Location"] == protected_page.url
    page = client.get(protected_page.url)
    assert "Secret body" in page.content.decode()
    assert "private" in page["Cache-Control"]
