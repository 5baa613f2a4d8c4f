"""Adapters to the outside systems: the data sources and the municipality (DigiD speaks
SAML: webapp/saml.py).

Each is an HTTP boundary; by default the simulators in this app answer (see README).
"""

import json

import requests
from flask import current_app

from webapp import signing


class OutsideSystemError(Exception):
    """An outside system did not answer as it should; the work can be tried again."""


def _post(base_url_key, path, payload, headers=None, data=None):
    url = (current_app.config[base_url_key] or current_app.config["PUBLIC_URL"]) + path
    try:
        response = requests.post(url, json=payload, data=data, headers=headers,
                                 timeout=current_app.config["OUTSIDE_TIMEOUT_S"])
    except requests.RequestException as exc:
        raise OutsideSystemError(f"{url}: {type(exc).__name__}") from None
    if response.status_code >= 400:
        raise OutsideSystemError(f"{url}: HTTP {response.status_code}")
    return response.json()


def fetch_from_source(source, bsn):
    """The data one source holds for this BSN, asked with the sources' bearer token."""
    headers = {"Authorization": f"Bearer {current_app.config['SOURCES_TOKEN']}"}
    return _post("SOURCES_URL", f"/bronnen-sim/api/{source}", {"bsn": bsn}, headers)


def deliver_to_gemeente(gemeente_code, dossier, delivery_id):
    """Deliver a dossier; `delivery_id` makes a repeated delivery harmless. Returns a reference."""
    body = json.dumps(dossier).encode()
    headers = signing.signed_headers(current_app.config["GEMEENTE_SIGNING_SECRET"], gemeente_code,
                                     delivery_id, body)
    headers["Content-Type"] = "application/json"
    answer = _post("GEMEENTE_URL", f"/gemeente/api/{gemeente_code}/dossiers", None, headers, body)
    return answer["reference"]
