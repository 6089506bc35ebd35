"""Registration only: each hook delegates to the module that does the work."""

from wagtail import hooks

from . import log_actions
from .views.unlock import gate


@hooks.register("on_serve_page")
def check_member_access(callback):
    return gate(callback)


@hooks.register("register_log_actions")
def register_log_actions(actions):
    log_actions.register(actions)
