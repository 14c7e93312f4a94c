"""The web app: explained flags for Early Help leads, review and approval for ethics boards.

FastAPI + Jinja templates styled with the GOV.UK Design System, server-rendered
and usable without JavaScript. Start it with ``earlywarning serve``; prepare
its database with ``earlywarning app-init``.
"""

from earlywarning.app._settings import Settings, SettingsError, load_settings
from earlywarning.app._web import create_app

__all__ = ["Settings", "SettingsError", "load_settings", "create_app"]
