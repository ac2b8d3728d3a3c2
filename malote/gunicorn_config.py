"""gunicorn settings for serving Malote: ``gunicorn -c python:malote.gunicorn_config malote.wsgi``.

The access log never contains a query string. Some systems authenticate their webhooks with a
token in the URL (Tiny: ``POST /hooks/<code>?token=…``), and API searches carry customers' names,
CPFs and e-mails; neither belongs in a log file. :class:`QuerylessLogger` removes the query from
every atom gunicorn offers (``%(r)s``, ``%(q)s``, ``%({raw_uri}e)s``, ``%({query_string}e)s``,
the referer), so any ``access_log_format`` an operator picks stays free of it.
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

logger_class = "malote.gunicorn_config.QuerylessLogger"


def without_query(uri: str) -> str:
    """``uri`` up to its ``?`` (a query that was there is shown as ``?…``)."""
    path, sep, _ = uri.partition("?")
    return f"{path}?…" if sep else path


class QuerylessLogger(Logger):
    """gunicorn's logger with every query string cut out of the access-log atoms."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        method, protocol = environ.get("REQUEST_METHOD", "-"), environ.get("SERVER_PROTOCOL", "-")
        atoms["r"] = f"{method} {without_query(str(environ.get('RAW_URI', '')))} {protocol}"
        atoms["q"] = ""
        for key in ("{raw_uri}e", "{request_uri}e"):
            if key in atoms:
                atoms[key] = without_query(str(atoms[key]))
        atoms.pop("{query_string}e", None)
        for key in ("f", "{referer}i"):
            if isinstance(atoms.get(key), str):
                atoms[key] = without_query(atoms[key])
        return atoms
