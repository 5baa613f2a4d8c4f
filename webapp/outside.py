"""Adapters to the outside systems: the data sources and the municipality (DigiD speaks
SAML: webapp/saml.py).

Each is an HTTP boundary; by default the simulators in this app answer (see README).
"""

import json

from flask import current_app

from webapp import outbound, signing, zgw
from webapp.config import ZGW_KEYS


class OutsideSystemError(Exception):
    """An outside system did not answer as it should; the work can be tried again."""


def _post(base_url_key, path, payload, headers=None, data=None):
    return _post_to((current_app.config[base_url_key] or current_app.config["PUBLIC_URL"]) + path,
                    payload, headers, data)


def _post_to(url, payload, headers=None, data=None):
    """POST to an outside system over the process's kept connections (webapp.outbound)."""
    try:
        answer = outbound.request("POST", url, json=payload, body=data, headers=headers,
                                  timeout=current_app.config["OUTSIDE_TIMEOUT_S"])
    except outbound.Unanswered as exc:
        raise OutsideSystemError(f"{url}: {exc}") from None
    if not 200 <= answer.status < 300:  # a redirect too: a POST is not sent elsewhere
        raise OutsideSystemError(f"{url}: HTTP {answer.status}")
    try:
        return answer.json()
    except ValueError:
        raise OutsideSystemError(f"{url}: not JSON (HTTP {answer.status})") from None


def fetch_from_source(source, bsn):
    """The data one source holds for this BSN, asked with the sources' bearer token."""
    headers = {"Authorization": f"Bearer {current_app.config['SOURCES_TOKEN']}"}
    return _post("SOURCES_URL", f"/bronnen-sim/api/{source}", {"bsn": bsn}, headers)


def deliver_to_gemeente(gemeente_code, dossier, delivery_id):
    """Deliver a dossier with the municipality's backend (`delivery_backend`); `delivery_id`
    makes a repeated delivery harmless. Returns a reference."""
    backend, settings = delivery_backend(gemeente_code)
    if backend == "zgw":
        try:
            return zgw.deliver(settings, dossier, delivery_id,
                               current_app.config["OUTSIDE_TIMEOUT_S"])
        except zgw.ZgwError as exc:
            raise OutsideSystemError(str(exc)) from None
    body = json.dumps(dossier).encode()
    headers = signing.signed_headers(current_app.config["GEMEENTE_SIGNING_SECRET"], gemeente_code,
                                     delivery_id, body)
    headers["Content-Type"] = "application/json"
    # A municipality's own endpoint as it gave it; else the receiver at GEMEENTE_URL (or the
    # simulator in this app), which takes every municipality's dossiers under its code.
    base = current_app.config["GEMEENTE_URL"] or current_app.config["PUBLIC_URL"]
    url = settings or f"{base}/gemeente/api/{gemeente_code}/dossiers"
    answer = _post_to(url, None, headers, body)
    return answer["reference"]


def delivery_backend(gemeente_code):
    """("zgw", its zgw.Connection) or ("webhook", its base URL or None) for a municipality:
    its entry in GEMEENTE_BACKENDS, else GEMEENTE_BACKEND with this app's simulator (without
    the simulators a ZGW municipality needs its own connection: never the simulator's)."""
    config = current_app.config
    entry = (config["GEMEENTE_BACKENDS"].get(gemeente_code)
             or {"backend": config["GEMEENTE_BACKEND"]})
    if entry["backend"] == "webhook":
        return "webhook", entry.get("url")
    if set(ZGW_KEYS) <= entry.keys():
        return "zgw", zgw.Connection(**{key: entry[key] for key in ZGW_KEYS})
    if not config["SIMULATORS"]:
        raise OutsideSystemError(f"GEMEENTE_BACKENDS has no ZGW connection for {gemeente_code}")
    return "zgw", zgw.simulator_connection(config["GEMEENTE_URL"] or config["PUBLIC_URL"],
                                           config["SECRET_KEY"], gemeente_code)
