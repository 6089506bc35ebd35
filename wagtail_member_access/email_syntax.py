"""The locked-down template language of editor-written emails (docs/security.md#email-context).

Editors write Django template syntax, rendered by a Django ``Engine`` of our own that has no
default tag libraries, no ``{% load %}``-able libraries, no template loaders and only an
allow-list of tags (``if``, ``for``, ``comment``) and filters. Why Django's engine and not
Jinja2's sandbox or python-liquid: it is the syntax the shipped defaults and every Django
developer already use, it needs no new dependency, and with no loaders and no libraries it can
reach nothing but the plain strings in its context (docs/editing-emails.md#safe-rendering).

:func:`validate` refuses, with a translated message naming the problem, everything that is
not plain text, allowed placeholders, allowed filters and allowed tags: the same check runs
for the admin's form and for ``api.set_email_template``.
"""

from __future__ import annotations

import re
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.template import (
    Context,
    Engine,
    Library,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
)
from django.template.base import Lexer, TokenType
from django.utils.translation import gettext as _

__all__ = [
    "ALLOWED_FILTERS",
    "ALLOWED_TAGS",
    "compile_template",
    "render",
    "validate",
]

#: Tags an editor may use (their closing and middle tags come with them).
ALLOWED_TAGS = ("if", "for", "comment")
_INNER_TAGS = {"elif", "else", "endif", "empty", "endfor", "endcomment"}
#: Filters an editor may use: none of them can mark text safe or reach beyond a string.
ALLOWED_FILTERS = ("capfirst", "default", "lower", "title", "truncatechars", "upper")
#: Refused with a message of their own (they are what an attacker or a copied snippet tries).
_FORBIDDEN_TAGS = ("load", "include", "extends", "autoescape", "debug")
_FORBIDDEN_FILTERS = ("safe", "safeseq")
_LOOP_NAMES = {"forloop"}
_KEYWORDS = {"and", "or", "not", "in", "is", "None", "True", "False", "reversed"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_NAME = re.compile(r"[A-Za-z_][\w.]*")

register = Library()
for _tag in ALLOWED_TAGS:
    register.tag(_tag, getattr(defaulttags, {"if": "do_if", "for": "do_for"}.get(_tag, _tag)))
for _filter in ALLOWED_FILTERS:
    register.filter(_filter, getattr(defaultfilters, _filter))


class _LockedEngine(Engine):
    # Django's Engine always adds its default tag and filter libraries (``load``, ``include``,
    # ``safe``, ``debug``...): this one starts from nothing but our allow-list.
    default_builtins = []


@lru_cache(maxsize=2)
def _engine(autoescape: bool) -> Engine:
    return _LockedEngine(
        dirs=[],
        app_dirs=False,
        loaders=[],
        libraries={},
        builtins=[__name__],
        autoescape=autoescape,
        debug=False,
        string_if_invalid="",
    )


@lru_cache(maxsize=512)
def compile_template(source: str, *, html: bool):
    """``source`` compiled by the locked-down engine (escaping HTML when ``html``); raises
    ``TemplateSyntaxError`` for what it cannot parse. Call :func:`validate` first."""
    return _engine(html).from_string(source)


def render(source: str, context: dict, *, html: bool) -> str:
    """Render an editor's ``source`` against ``context`` (plain strings and lists of dicts of
    strings only, see ``emails.py``)."""
    return compile_template(source, html=html).render(Context(context, autoescape=html))


def _refuse(message: str, code: str):
    raise ValidationError(message, code=code)


def _names(expression: str) -> list[str]:
    """The variable paths in a tag's or variable's expression, string literals left out."""
    expression = _STRING.sub('""', expression)
    return [n for n in _NAME.findall(expression) if n not in _KEYWORDS]


def _check_filters(contents: str) -> list[str]:
    """Check the filters of a ``{{ … }}`` and return its variable paths."""
    expression = _STRING.sub('""', contents)
    head, *filters = expression.split("|")
    names = _names(head)
    for part in filters:
        name, _sep, argument = part.partition(":")
        name = name.strip()
        if name in _FORBIDDEN_FILTERS:
            _refuse(_("The filter |%(name)s is not allowed in emails.") % {"name": name}, "safe")
        if name not in ALLOWED_FILTERS:
            _refuse(
                _("Unknown filter |%(name)s. Allowed filters: %(allowed)s.")
                % {"name": name, "allowed": ", ".join(ALLOWED_FILTERS)},
                "filter",
            )
        names += [n for n in _names(argument) if not n[0].isdigit()]
    return names


def _check_tag(contents: str, loop_names: set[str]) -> list[str]:
    """Check one ``{% … %}`` and return the variable paths it reads."""
    bits = contents.split()
    tag = bits[0] if bits else ""
    if tag in _FORBIDDEN_TAGS:
        _refuse(_("The tag {%% %(tag)s %%} is not allowed in emails.") % {"tag": tag}, tag)
    if tag not in ALLOWED_TAGS and tag not in _INNER_TAGS:
        _refuse(
            _("Unknown tag {%% %(tag)s %%}. Allowed tags: %(allowed)s.")
            % {"tag": tag, "allowed": ", ".join(ALLOWED_TAGS)},
            "tag",
        )
    rest = contents[len(tag) :]
    if tag == "for":
        targets, _sep, sequence = rest.partition(" in ")
        loop_names.update(n.strip() for n in targets.split(",") if n.strip())
        return _names(sequence)
    if tag in ("if", "elif"):
        return _names(rest)
    return []


def _check_placeholder(path: str, placeholders, loop_names: set[str], items: dict) -> None:
    first, *attrs = path.split(".")
    if first in loop_names or first in _LOOP_NAMES:
        return
    if first not in placeholders:
        _refuse(
            _("Unknown placeholder {{ %(name)s }}. This email can use: %(allowed)s.")
            % {"name": first, "allowed": ", ".join(placeholders)},
            "placeholder",
        )
    if attrs and first not in items:
        _refuse(
            _("The placeholder {{ %(name)s }} has no parts: write {{ %(name)s }}.")
            % {"name": first},
            "placeholder",
        )


def validate(
    source: str,
    *,
    placeholders,
    required=(),
    html: bool = False,
    one_line: bool = False,
    items: dict | None = None,
) -> None:
    """Raise ``ValidationError`` (a translated message naming the problem) unless ``source``
    uses only the allowed tags and filters, the given ``placeholders`` (``items`` maps a list
    placeholder to the keys of its entries, e.g. ``pages`` → ``title``, ``url``) and contains
    every ``required`` placeholder; ``one_line`` refuses a line break (a subject)."""
    items = items or {}
    if one_line and ("\n" in source or "\r" in source):
        _refuse(_("The subject must be one line."), "newline")
    loop_names: set[str] = set()
    used: set[str] = set()
    try:
        tokens = Lexer(source).tokenize()
    except TemplateSyntaxError as exc:
        _refuse(_("Template syntax error: %(error)s") % {"error": exc}, "syntax")
    for token in tokens:
        if token.token_type == TokenType.VAR:
            names = _check_filters(token.contents)
        elif token.token_type == TokenType.BLOCK:
            names = _check_tag(token.contents, loop_names)
        else:
            continue
        for path in names:
            _check_placeholder(path, placeholders, loop_names, items)
            used.add(path.split(".")[0])
    try:
        compile_template(source, html=html)
    except TemplateSyntaxError as exc:
        _refuse(_("Template syntax error: %(error)s") % {"error": exc}, "syntax")
    for name in required:
        if name not in used:
            _refuse(
                _("The placeholder {{ %(name)s }} is required in this email.") % {"name": name},
                "required",
            )
