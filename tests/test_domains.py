"""Domain normalisation (domains.py): one canonical form for a domain grant, and exact
matching of an address's domain against it; look-alikes never match."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from wagtail_member_access.domains import (
    address_domain,
    canonical_address,
    normalize_domain,
    normalize_grantee,
)

# "schüle.example" in its ASCII (IDNA 2008) form.
SCHUELE = "@xn--schle-mva.example"


@pytest.mark.parametrize(
    "value",
    ["@school.example", "@School.EXAMPLE", " @school.example ", "@school.example."],
)
def test_one_canonical_form(value):
    assert normalize_domain(value) == "@school.example"


def test_unicode_domain_and_its_punycode_are_one_grant():
    assert normalize_domain("@Schüle.example") == SCHUELE
    assert normalize_domain("@xn--schle-mva.example") == SCHUELE
    assert normalize_domain("@XN--SCHLE-MVA.example") == SCHUELE


@pytest.mark.parametrize(
    "value",
    [
        "@",
        "@school",  # one label
        "@ana@school.example",
        "@school..example",
        "@school example",
        "@xn--zz.example",  # not valid punycode
        "@-school.example",
        "@school.example/evil",
        "@" + "a" * 64 + ".example",  # label over 63 characters
    ],
)
def test_not_a_domain_is_refused_with_a_clear_message(value):
    with pytest.raises(ValidationError) as info:
        normalize_domain(value)
    assert info.value.code == "domain"
    assert info.value.messages == [f"“{value}” is not a domain: enter one such as @school.example."]


@pytest.mark.parametrize(
    ("email", "domain"),
    [
        ("ana@school.example", "@school.example"),
        ("Ana@SCHOOL.Example", "@school.example"),
        ("ana@schüle.example", SCHUELE),
        ("ana@xn--schle-mva.example", SCHUELE),
        ("ana@evil-school.example", "@evil-school.example"),
        ("ana@school.example.evil.com", "@school.example.evil.com"),
        ("ana@sub.school.example", "@sub.school.example"),
        ("ana@sсhool.example", "@xn--shool-1ye.example"),  # a Cyrillic "с"
    ],
)
def test_an_address_belongs_to_exactly_its_own_domain(email, domain):
    assert address_domain(email) == domain


def test_canonical_address_uses_the_grants_form_of_the_domain():
    assert canonical_address("Ana@Schüle.example") == "ana@xn--schle-mva.example"
    assert canonical_address("ana@school.example.") == ""  # not a valid address
    assert canonical_address("not an address") == ""


def test_normalize_grantee_takes_a_domain_or_an_address():
    assert normalize_grantee("@School.example") == "@school.example"
    assert normalize_grantee("Ana@School.example") == "ana@school.example"
    with pytest.raises(ValidationError):
        normalize_grantee("school.example")
