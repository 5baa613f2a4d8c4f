"""Simulators of the outside systems (DigiD, the data sources, the municipality).

They answer over HTTP like the real systems would, with deterministic data for
fictional citizens in the 999-range of BSNs. A real integration replaces a simulator
behind the same adapter in webapp/outside.py.
"""


def json_object():
    """The request's JSON body when it is an object, else {}: hostile input never breaks a view."""
    from flask import request
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}
