"""Delivery to a municipality's case system over the national ZGW APIs (Zaken, Documenten,
Catalogi; Open Zaak is the common implementation), as Open Formulieren registers a submission.

A delivery is a zaak of the configured zaaktype with the applicant as initiator, the dossier
as a PDF and its structured data as JSON (two enkelvoudige informatieobjecten, each linked to
the zaak) and the zaaktype's first status. Every object has a name made from our delivery id
(the zaak's and the documents' `identificatie`), and each step first looks its object up: a
delivery repeated after a lost answer or a crash halfway completes what is missing and never
makes a second zaak or document.
"""

import base64
import dataclasses
import hashlib
import hmac
import json
import time
import uuid
from datetime import datetime, timezone

import jwt
import requests

from .domain.bsn import is_valid_bsn

API_VERSIONS = {"zaken": "1.5.1", "documenten": "1.5.0", "catalogi": "1.3.1"}
CRS = {"Accept-Crs": "EPSG:4326", "Content-Crs": "EPSG:4326"}  # the Zaken API asks for both
SIMULATOR_CLIENT_ID = "ockto"


class ZgwError(Exception):
    """The case system did not answer as it should; the delivery can be tried again."""


@dataclasses.dataclass(frozen=True)
class Connection:
    """One municipality's ZGW APIs and this service's credentials there."""

    zaken_api: str
    documenten_api: str
    catalogi_api: str
    zaaktype: str
    informatieobjecttype: str
    client_id: str
    secret: str
    rsin: str  # the municipality's RSIN: bronorganisatie and verantwoordelijke organisatie


def simulated_rsin(code):
    """A fictional RSIN for the simulator's municipality `code`: nine digits from 8 and the CBS
    code, eleven-proof as an RSIN is."""
    return next(candidate for n in range(1000)
                if is_valid_bsn(candidate := f"8{code[2:].rjust(4, '0')}{n:04d}"))


def simulated_uuid(code, name):
    """The simulator's stable UUID of catalogue object `name` of municipality `code`."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ockto-zgw-sim:{code}:{name}"))


def simulator_secret(secret_key, code):
    """The simulator's client secret for municipality `code`: derived, so every process agrees."""
    return hmac.new(secret_key.encode(), b"zgw-client:" + code.encode(), hashlib.sha256).hexdigest()


def simulator_connection(base_url, secret_key, code):
    """The connection to this app's simulator of municipality `code` (at `base_url`)."""
    root = f"{base_url}/gemeente/zgw/{code}"
    return Connection(
        zaken_api=f"{root}/zaken/api/v1", documenten_api=f"{root}/documenten/api/v1",
        catalogi_api=f"{root}/catalogi/api/v1",
        zaaktype=f"{root}/catalogi/api/v1/zaaktypen/{simulated_uuid(code, 'zaaktype')}",
        informatieobjecttype=(f"{root}/catalogi/api/v1/informatieobjecttypen/"
                              f"{simulated_uuid(code, 'informatieobjecttype')}"),
        client_id=SIMULATOR_CLIENT_ID, secret=simulator_secret(secret_key, code),
        rsin=simulated_rsin(code))


def token(connection, now=None):
    """The JWT the ZGW APIs want (HS256 with this consumer's secret, as Open Zaak checks it)."""
    claims = {"iss": connection.client_id, "iat": int(now if now is not None else time.time()),
              "client_id": connection.client_id, "user_id": connection.client_id,
              "user_representation": "Ockto"}
    return jwt.encode(claims, connection.secret, algorithm="HS256")


class _Client:
    def __init__(self, connection, timeout):
        self.connection, self.timeout = connection, timeout
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {token(connection)}",
                                  "Accept": "application/json", **CRS})

    def call(self, method, url, **kwargs):
        try:
            response = self.http.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise ZgwError(f"{url}: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise ZgwError(f"{method} {url}: HTTP {response.status_code} {response.text[:300]}")
        return response.json()

    def find(self, url, **query):
        """The results of a list endpoint (paginated or a plain array) for `query`."""
        answer = self.call("GET", url, params=query)
        return answer["results"] if isinstance(answer, dict) else answer

    def find_or_create(self, url, query, body):
        """The object `query` finds at `url`, else the one made from `body`."""
        found = self.find(url, **query)
        return found[0] if found else self.call("POST", url, json=body)


def deliver(connection, dossier, delivery_id, timeout, today=None):
    """Register `dossier` (with its `dossier_pdf`) as a zaak; returns the zaak's identificatie."""
    c, api = _Client(connection, timeout), connection
    today = (today or datetime.now(timezone.utc).date()).isoformat()
    identificatie = f"OCKTO-{delivery_id}"
    zaak = c.find_or_create(f"{api.zaken_api}/zaken", {
        "identificatie": identificatie, "bronorganisatie": api.rsin}, {
        "identificatie": identificatie, "bronorganisatie": api.rsin,
        "verantwoordelijkeOrganisatie": api.rsin, "zaaktype": api.zaaktype,
        "startdatum": today, "omschrijving": "Aanvraag gemeentepolis via Ockto",
        "toelichting": f"Gegevens geleverd door Ockto, levering {delivery_id}.",
        "vertrouwelijkheidaanduiding": "vertrouwelijk",
        "kenmerken": [{"kenmerk": delivery_id, "bron": "Ockto"}]})
    applicant = next(p for p in dossier["personen"] if p["rol"] == "applicant")
    roltypen = c.find(f"{api.catalogi_api}/roltypen", zaaktype=api.zaaktype,
                      omschrijvingGeneriek="initiator")
    if not roltypen:
        raise ZgwError(f"{api.zaaktype}: the catalogue has no roltype 'initiator'")
    c.find_or_create(f"{api.zaken_api}/rollen", {
        "zaak": zaak["url"], "omschrijvingGeneriek": "initiator"}, {
        "zaak": zaak["url"], "betrokkeneType": "natuurlijk_persoon", "roltype": roltypen[0]["url"],
        "roltoelichting": "Aanvrager", "betrokkeneIdentificatie": {"inpBsn": applicant["bsn"]}})
    structured = {k: v for k, v in dossier.items() if k != "dossier_pdf"}
    for suffix, title, name, form, content in (
            ("P", "Dossier Ockto (PDF)", f"dossier-{delivery_id}.pdf", "application/pdf",
             base64.b64decode(dossier["dossier_pdf"])),
            ("J", "Gegevens Ockto (JSON)", f"dossier-{delivery_id}.json", "application/json",
             json.dumps(structured, ensure_ascii=False, indent=1).encode())):
        document = c.find_or_create(f"{api.documenten_api}/enkelvoudiginformatieobjecten", {
            "identificatie": f"{identificatie}-{suffix}", "bronorganisatie": api.rsin}, {
            "identificatie": f"{identificatie}-{suffix}", "bronorganisatie": api.rsin,
            "creatiedatum": today, "titel": title, "auteur": "Ockto", "taal": "nld",
            "formaat": form, "bestandsnaam": name, "bestandsomvang": len(content),
            "inhoud": base64.b64encode(content).decode("ascii"),
            "informatieobjecttype": api.informatieobjecttype,
            "vertrouwelijkheidaanduiding": "vertrouwelijk", "indicatieGebruiksrecht": False})
        c.find_or_create(f"{api.zaken_api}/zaakinformatieobjecten", {
            "zaak": zaak["url"], "informatieobject": document["url"]}, {
            "zaak": zaak["url"], "informatieobject": document["url"], "titel": title})
    statustypen = sorted(c.find(f"{api.catalogi_api}/statustypen", zaaktype=api.zaaktype),
                         key=lambda s: s["volgnummer"])
    if not statustypen:
        raise ZgwError(f"{api.zaaktype}: the catalogue has no statustype")
    c.find_or_create(f"{api.zaken_api}/statussen", {
        "zaak": zaak["url"], "statustype": statustypen[0]["url"]}, {
        "zaak": zaak["url"], "statustype": statustypen[0]["url"],
        "datumStatusGezet": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "statustoelichting": "Aanvraag ontvangen via Ockto"})
    return identificatie
