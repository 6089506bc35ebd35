"""The document serve gate (docs/security.md#documents): a document in a collection with
member access is served only to visitors who pass; strangers get the unlock flow in place."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from wagtail.models import CollectionViewRestriction, ModelLogEntry

from tests.conftest import code_from
from tests.factories import UserFactory, make_collection, make_document
from wagtail_member_access import api, log_actions
from wagtail_member_access.models import EmailChallenge

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

CONTENT = b"%PDF-1.4 secret workbook"


@pytest.fixture
def document(files):
    return make_document(files)


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def request_url(document, filename=None):
    args = [document.pk, filename or document.filename]
    return reverse("wagtail_member_access:document_request_code", args=args)


def verify_url(document, filename=None):
    args = [document.pk, filename or document.filename]
    return reverse("wagtail_member_access:document_verify_code", args=args)


def change_url(document, filename=None):
    args = [document.pk, filename or document.filename]
    return reverse("wagtail_member_access:document_change_email", args=args)


def test_a_public_document_is_served_as_wagtail_serves_it(client):
    document = make_document(make_collection("Public files"))
    response = client.get(document.url)
    assert response.status_code == 200
    assert body(response) == CONTENT
    assert "no-store" not in response.get("Cache-Control", "")


def test_a_stranger_gets_the_unlock_form_in_place(client, document):
    response = client.get(document.url)
    assert response.status_code == 200
    html = response.content.decode()
    assert CONTENT.decode() not in html
    assert '<h1 id="wma-heading">Workbook</h1>' in html
    assert f'action="{request_url(document)}"' in html
    assert "private" in response["Cache-Control"] and "no-store" in response["Cache-Control"]


def test_stranger_unlocks_with_the_emailed_code_and_gets_the_file(
    client, document, buyer, mailoutbox
):
    response = client.post(
        request_url(document), {"email": "ana@example.com", "next": document.url}
    )
    assert (response.status_code, response["Location"]) == (303, document.url)
    challenge = EmailChallenge.objects.get()
    assert (challenge.page_id, challenge.document_id) == (None, document.pk)
    message = mailoutbox[0]
    assert message.to == ["ana@example.com"]
    assert 'Your code to open "Workbook" on ' in message.body
    # The file is named, never called a page.
    assert 'nobody can open "Workbook" without it.' in message.body
    assert "page without it" not in message.body
    assert f"http://localhost{document.url}" in message.body.splitlines()
    response = client.post(verify_url(document), {"code": code_from(message), "next": document.url})
    assert (response.status_code, response["Location"]) == (303, document.url)
    response = client.get(document.url)
    assert response.status_code == 200
    assert body(response) == CONTENT
    assert "private" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
    assert "Cookie" in response["Vary"] and response.has_header("Expires")
    entry = ModelLogEntry.objects.get(action=log_actions.UNLOCK)
    assert (entry.content_type.model, entry.object_id) == ("document", str(document.pk))
    assert entry.data == {"email": "a**@example.com", "method": "code"}


def test_the_magic_link_lands_on_the_document(client, course, buyer, mailoutbox):
    collection = make_collection("Linked files")
    api.protect_collection(collection, mode="link", access_lists=[course])
    document = make_document(collection)
    client.post(request_url(document), {"email": "ana@example.com", "next": document.url})
    link = next(line for line in mailoutbox[0].body.splitlines() if "/access/link/" in line)
    path = link[link.index("/access/link/") :].strip()
    page = client.get(path)
    assert "Workbook" in page.content.decode()
    confirm = client.session["wagtail_member_access.link_confirm"]
    response = client.post(path, {"confirm": confirm})
    assert (response.status_code, response["Location"]) == (303, document.url)
    assert body(client.get(document.url)) == CONTENT


def test_an_address_without_a_grant_gets_no_code(client, document, mailoutbox):
    client.post(request_url(document), {"email": "eve@example.com", "next": document.url})
    assert mailoutbox == []
    assert EmailChallenge.objects.get().cancel_reason == "not_eligible"


def test_a_member_without_a_grant_is_refused(client, document):
    member = UserFactory(email="eve@example.com")
    client.force_login(member)
    response = client.get(document.url)
    assert response.status_code == 200
    assert CONTENT.decode() not in response.content.decode()
    assert "which has no access to this page" in response.content.decode()


def test_a_member_with_a_grant_gets_the_file_private(client, document, buyer):
    client.force_login(UserFactory(email="ana@example.com"))
    response = client.get(document.url)
    assert body(response) == CONTENT
    assert response["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"


def test_sub_collections_inherit(client, files, buyer):
    below = make_document(make_collection("Week 1", parent=files), title="Notes")
    assert b"Notes" in client.get(below.url).content
    assert "secret" not in client.get(below.url).content.decode()
    client.force_login(UserFactory(email="ana@example.com"))
    assert body(client.get(below.url)) == CONTENT


def test_members_only_documents_send_strangers_to_sign_in(client):
    collection = make_collection("Members files")
    api.protect_collection(collection, mode="members")
    document = make_document(collection)
    response = client.get(document.url)
    assert response.status_code == 302
    sign_in = reverse("wagtail_member_access:sign_in")
    assert response["Location"] == f"{sign_in}?next={document.url}"
    assert "no-store" in response["Cache-Control"]
    client.force_login(UserFactory(email="bob@example.com"))
    assert body(client.get(document.url)) == CONTENT


def test_members_only_documents_by_group(client):
    collection = make_collection("Staff files")
    staff = Group.objects.create(name="Trainers")
    api.protect_collection(collection, mode="members", groups=[staff])
    document = make_document(collection)
    member = UserFactory(email="bob@example.com")
    client.force_login(member)
    assert client.get(document.url).status_code == 403
    member.groups.add(staff)
    assert body(client.get(document.url)) == CONTENT


def test_wagtails_own_privacy_still_applies_beside_ours(client, document, buyer):
    CollectionViewRestriction.objects.create(
        collection=document.collection, restriction_type="password", password="letmein"
    )
    client.force_login(UserFactory(email="ana@example.com"))
    response = client.get(document.url)
    assert response.status_code == 200
    assert b"letmein" not in body(response)
    assert CONTENT not in body(response)
    assert 'name="password"' in response.content.decode()


def test_unlock_endpoints_of_an_unprotected_document_404(client):
    document = make_document(make_collection("Public files"))
    for url in (request_url(document), verify_url(document), change_url(document)):
        assert client.get(url).status_code == 404
        assert client.post(url, {"email": "a@example.com", "code": "123456"}).status_code == 404
    assert client.post(request_url(document).replace(str(document.pk), "99999")).status_code == 404


def test_the_endpoints_carry_the_documents_filename(document):
    assert request_url(document) == f"/access/unlock/document/{document.pk}/workbook.pdf/email/"
    assert verify_url(document) == f"/access/unlock/document/{document.pk}/workbook.pdf/code/"
    assert change_url(document) == (
        f"/access/unlock/document/{document.pk}/workbook.pdf/change-email/"
    )
    assert document.url == f"/documents/{document.pk}/workbook.pdf"


def test_the_unlock_form_posts_to_the_endpoints_with_the_filename(client, document, buyer):
    html = client.get(document.url).content.decode()
    assert f'action="{request_url(document)}"' in html
    client.post(request_url(document), {"email": "ana@example.com", "next": document.url})
    html = client.get(document.url).content.decode()
    assert f'action="{verify_url(document)}"' in html
    assert f'action="{change_url(document)}"' in html


@pytest.mark.parametrize("method", ["get", "head", "post"])
def test_the_endpoints_reveal_nothing_without_the_documents_filename(client, document, method):
    # docs/security.md#unlock-endpoints: the id alone gives neither the file's name (which
    # a GET redirect to the serve URL would) nor its title (which the form re-rendered for a
    # bad email would).
    for url in (
        request_url(document, "other.pdf"),
        verify_url(document, "other.pdf"),
        change_url(document, "other.pdf"),
        f"/access/unlock/document/{document.pk}/email/",
    ):
        response = getattr(client, method)(url, {"email": "not-an-email", "code": "x"})
        assert response.status_code == 404, url
        assert "Location" not in response
        assert "Workbook" not in response.content.decode()
        assert "workbook.pdf" not in response.content.decode()
    assert EmailChallenge.objects.count() == 0


def test_with_the_filename_a_reload_goes_back_to_the_document(client, document):
    for url in (request_url(document), verify_url(document), change_url(document)):
        response = client.get(url)
        assert (response.status_code, response["Location"]) == (302, document.url)
        assert "no-store" in response["Cache-Control"]
    response = client.post(request_url(document), {"email": "not-an-email"})
    assert response.status_code == 200
    assert '<h1 id="wma-heading">Workbook</h1>' in response.content.decode()


def test_a_members_only_document_endpoint_404s(client):
    collection = make_collection("Members files")
    api.protect_collection(collection, mode="members")
    document = make_document(collection)
    assert client.get(request_url(document)).status_code == 404
    assert client.post(request_url(document), {"email": "a@example.com"}).status_code == 404
