"""Old name of :func:`ssltheory.files.jsonable`, kept only for ``paper_checks/registry.py`` until it imports
the new name; nothing else imports this module."""

from ssltheory.files import jsonable  # noqa: F401
