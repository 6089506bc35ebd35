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
import secrets as _random
from dataclasses import dataclass, field
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

from .email_secrets import misplaced_in_html, misplaced_in_text

__all__ = [
    "ALLOWED_FILTERS",
    "ALLOWED_TAGS",
    "MAX_LENGTH",
    "MAX_LOOP_DEPTH",
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
_COMPARISONS = {"==", "!=", "<", ">", "<=", ">=", "in", "is"}
#: The longest template part an editor may save, in characters.
MAX_LENGTH = 50_000
#: How deep ``{% for %}`` may nest: the only lists (``pages``) hold no lists, so 1.
MAX_LOOP_DEPTH = 1
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


@dataclass
class _Scope:
    """What one email's templates may use: its placeholders, its lists and their keys, its
    secrets (names, and the secret keys of list entries)."""

    placeholders: tuple
    items: dict = field(default_factory=dict)
    secrets: tuple = ()
    secret_items: dict = field(default_factory=dict)

    def is_secret(self, path: str, loops: list[dict]) -> bool:
        first, _sep, rest = path.partition(".")
        for loop in loops:
            if first in loop:
                return rest.split(".")[0] in self.secret_items.get(loop[first], ())
        return first in self.secrets


def _check_filters(contents: str, loops: list[dict], scope: _Scope) -> list[str]:
    """Check the filters of a ``{{ … }}`` and return its variable paths. A secret is printed
    as it is: no filter may change it and it is no filter's argument
    (docs/security.md#email-escaping)."""
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
    if filters:
        for path in names:
            if scope.is_secret(path, loops):
                _refuse(
                    _("Write the placeholder {{ %(name)s }} on its own, without filters.")
                    % {"name": path},
                    "secret",
                )
    return names


def _check_tag(token, loops: list[dict], scope: _Scope) -> list[str]:
    """Check one ``{% … %}`` (split as Django splits it: any whitespace, quoted strings kept
    whole) and return the variable paths it reads; ``loops`` is the stack of open loops."""
    bits = token.split_contents()
    tag = bits[0] if bits else ""
    if tag in _FORBIDDEN_TAGS:
        _refuse(_("The tag {%% %(tag)s %%} is not allowed in emails.") % {"tag": tag}, tag)
    if tag not in ALLOWED_TAGS and tag not in _INNER_TAGS:
        _refuse(
            _("Unknown tag {%% %(tag)s %%}. Allowed tags: %(allowed)s.")
            % {"tag": tag, "allowed": ", ".join(ALLOWED_TAGS)},
            "tag",
        )
    if tag == "endfor" and loops:
        loops.pop()
    if tag == "for":
        return _check_for(bits, loops, scope)
    if tag in ("if", "elif"):
        names = [n for bit in bits[1:] for n in _names(bit)]
        compares = any(bit in _COMPARISONS for bit in bits[1:])
        for name in names:
            if compares and scope.is_secret(name, loops):
                _refuse(
                    _(
                        "The placeholder {{ %(name)s }} can only be tested with "
                        "{%% if %(name)s %%}, not compared: it is a secret."
                    )
                    % {"name": name},
                    "secret",
                )
        return names
    return []


def _check_for(bits: list[str], loops: list[dict], scope: _Scope) -> list[str]:
    # Django's own reading of {% for x, y in seq reversed %} (defaulttags.do_for).
    in_index = -3 if bits[-1] == "reversed" else -2
    if len(bits) < 4 or bits[in_index] != "in":
        return []  # the engine refuses it with its own message
    if len(loops) >= MAX_LOOP_DEPTH:
        _refuse(_("A {% for %} inside another {% for %} is not allowed in emails."), "nesting")
    sequence = bits[in_index + 1]
    if sequence not in scope.items:
        if scope.items:
            message = _("{%% for %%} can only go through a list: %(lists)s.") % {
                "lists": ", ".join(scope.items)
            }
        else:
            message = _("This email has no list to go through with {% for %}.")
        _refuse(message, "loop")
    names = [n.strip() for n in " ".join(bits[1:in_index]).split(",") if n.strip()]
    for name in names:
        if name in scope.placeholders:
            _refuse(
                _("{{ %(name)s }} is a placeholder: give the loop another name.") % {"name": name},
                "loop",
            )
    loops.append(dict.fromkeys(names, sequence))
    return [sequence]


def _check_placeholder(path: str, scope: _Scope, loops: list[dict]) -> None:
    first, *attrs = path.split(".")
    if first in _LOOP_NAMES or any(first in loop for loop in loops):
        return
    if first not in scope.placeholders:
        _refuse(
            _("Unknown placeholder {{ %(name)s }}. This email can use: %(allowed)s.")
            % {"name": first, "allowed": ", ".join(scope.placeholders)},
            "placeholder",
        )
    if attrs and first not in scope.items:
        _refuse(
            _("The placeholder {{ %(name)s }} has no parts: write {{ %(name)s }}.")
            % {"name": first},
            "placeholder",
        )


def _sample(name: str) -> str:
    # A random value per check, so that a template cannot be written around a known sample.
    token = _random.token_hex(6)
    return f"https://example.com/s/{token}/" if "link" in name else f"s{token}"


def _contexts(scope: _Scope, sample: dict, required) -> tuple[list[dict], dict[str, str]]:
    """The contexts the template is rendered with on save (the examples; every other value
    empty and no list entries) and the display name of each secret or required sample."""
    names: dict[str, str] = {}
    examples = dict(sample)
    for name in {*scope.secrets, *required}:
        examples[name] = _sample(name)
        names[examples[name]] = name
    for list_name, keys in scope.secret_items.items():
        entries = []
        for entry in examples.get(list_name) or ():
            entry = dict(entry)
            for key in keys:
                entry[key] = _sample(key)
                names[entry[key]] = f"page.{key}"
            entries.append(entry)
        examples[list_name] = entries
    empty = {
        name: examples[name] if name in scope.secrets else ([] if name in scope.items else "")
        for name in examples
    }
    return [examples, empty], names


def _check_rendered(source: str, scope: _Scope, sample: dict, required, html: bool) -> None:
    """Render with sample secrets: each may stand only as a whole word or a link's entire
    href (docs/security.md#email-escaping), and each required placeholder must show."""
    contexts, names = _contexts(scope, sample, required)
    secret = {*scope.secrets, *(key for keys in scope.secret_items.values() for key in keys)}
    for context in contexts:
        try:
            output = render(source, context, html=html)
        except Exception as exc:  # a value the engine cannot handle: refused, not sent
            _refuse(_("Template syntax error: %(error)s") % {"error": exc}, "syntax")
        check = misplaced_in_html if html else misplaced_in_text
        for value in check(output, list(names)):
            if names[value].split(".")[-1] in secret:
                _refuse(
                    _(
                        "The placeholder {{ %(name)s }} is a secret: it may stand only as a "
                        "word of its own or as the entire address of a link "
                        '(<a href="{{ %(name)s }}">), not inside another address or '
                        "attribute."
                    )
                    % {"name": names[value]},
                    "secret",
                )
        if context is contexts[0]:
            for value, name in names.items():
                if name in required and value.lower() not in output.lower():
                    _refuse(
                        _("The placeholder {{ %(name)s }} is required in this email.")
                        % {"name": name},
                        "required",
                    )


def validate(
    source: str,
    *,
    placeholders,
    required=(),
    html: bool = False,
    one_line: bool = False,
    items: dict | None = None,
    secrets=(),
    secret_items: dict | None = None,
    sample: dict | None = None,
) -> None:
    """Raise ``ValidationError`` (a translated message naming the problem) unless ``source``
    uses only the allowed tags and filters, the given ``placeholders`` (``items`` maps a list
    placeholder to the keys of its entries, e.g. ``pages`` → ``title``, ``url``), prints the
    ``secrets`` (and the ``secret_items`` keys of list entries) only where they cannot leak
    and shows every ``required`` placeholder when rendered with ``sample`` (the examples);
    ``one_line`` refuses a line break (a subject)."""
    scope = _Scope(tuple(placeholders), items or {}, tuple(secrets), secret_items or {})
    if len(source) > MAX_LENGTH:
        _refuse(
            _("This is too long: at most %(max)s characters.") % {"max": f"{MAX_LENGTH}"},
            "length",
        )
    if one_line and ("\n" in source or "\r" in source):
        _refuse(_("The subject must be one line."), "newline")
    loops: list[dict] = []
    try:
        tokens = Lexer(source).tokenize()
    except TemplateSyntaxError as exc:
        _refuse(_("Template syntax error: %(error)s") % {"error": exc}, "syntax")
    for token in tokens:
        if token.token_type == TokenType.VAR:
            names = _check_filters(token.contents, loops, scope)
        elif token.token_type == TokenType.BLOCK:
            names = _check_tag(token, loops, scope)
        else:
            continue
        for path in names:
            _check_placeholder(path, scope, loops)
    try:
        compile_template(source, html=html)
    except TemplateSyntaxError as exc:
        _refuse(_("Template syntax error: %(error)s") % {"error": exc}, "syntax")
    _check_rendered(source, scope, sample or {}, required, html)
