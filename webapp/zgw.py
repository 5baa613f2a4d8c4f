"""Delivery to a municipality's case system over the national ZGW APIs (Zaken, Documenten,
Catalogi; Open Zaak is the common implementation), as Open Formulieren registers a submission.

A delivery is a zaak of the configured zaaktype with the applicant as initiator, the dossier
as a PDF and its structured data as JSON (two enkelvoudige informatieobjecten, each linked to
the zaak) and the zaaktype's first status. Every object has a name made from our delivery id
(the zaak's and the documents' `identificatie`), and each step first looks its object up: a
delivery repeated after a lost answer or a crash halfway completes what is missing and never
makes a second zaak or document. (Of a zaak this run made, the documents and their links are
made without a look-up: they are ours alone and made after the zaak. Its rol and status are
looked up all the same: a municipality's own workflow may add them to a new zaak.) Two runs
of one delivery at once (a job sent twice) both find nothing and both POST the zaak: the Zaken API refuses the second (`identificatie` is
unique per `bronorganisatie`), and the run refused stops there with a ZgwError, so only one
of them goes on to the rollen, documents and statussen (which the standard does not keep
unique); its retry later completes what may be missing. A document refused as not unique was
made by such a twin: it is looked up again and used. A twin that starts after the other made
the zaak but before it made the rest never gets here: one run of a delivery holds it at a
time (webapp.journeys.deliver).
"""

import base64
import dataclasses
import hashlib
import hmac
import json
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import urlsplit

import jwt

from . import outbound
from .domain.bsn import is_valid_bsn

API_VERSIONS = {"zaken": "1.5.1", "documenten": "1.5.0", "catalogi": "1.3.1"}
CRS = {"Accept-Crs": "EPSG:4326", "Content-Crs": "EPSG:4326"}  # the Zaken API asks for both
SIMULATOR_CLIENT_ID = "ockto"
NOT_UNIQUE = "identificatie-niet-uniek"  # invalidParams code of a second zaak or document


class ZgwError(Exception):
    """The case system did not answer as it should; the delivery can be tried again.

    The message names the call, the status and the refused fields (invalidParams' name and
    code) only, never the answer's text: that may quote what we sent, a BSN or the dossier,
    and the message ends up in the worker's log."""

    def __init__(self, message, codes=frozenset()):
        super().__init__(message)
        self.codes = codes


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
        self.headers = {"Authorization": f"Bearer {token(connection)}",
                        "Accept": "application/json", **CRS}

    def call(self, method, url, **kwargs):
        try:
            answer = outbound.request(method, url, timeout=self.timeout, headers=self.headers,
                                      **kwargs)
        except outbound.Unanswered as exc:
            raise ZgwError(f"{method} {urlsplit(url).path}: {exc}") from None
        if answer.status >= 300:  # a redirect too: a POST is not sent elsewhere
            invalid = _invalid_params(answer)
            fields = "".join(f" {name}: {code}" for name, code in invalid)
            raise ZgwError(f"{method} {urlsplit(url).path}: HTTP {answer.status}{fields}",
                           frozenset(code for _, code in invalid))
        try:
            return answer.json()
        except ValueError:
            raise ZgwError(f"{method} {urlsplit(url).path}: not JSON (HTTP {answer.status})") from None

    def find(self, url, **query):
        """The results of a list endpoint (paginated or a plain array) for `query`."""
        answer = self.call("GET", url, params=query)
        return answer["results"] if isinstance(answer, dict) else answer

    def find_or_create(self, url, query, body, look_up=True):
        """The object `query` finds at `url`, else the one made from `body`; made at once
        without `look_up` (one of ours that cannot be there yet)."""
        found = self.find(url, **query) if look_up else []
        return found[0] if found else self.call("POST", url, json=body)

    def find_or_create_unique(self, url, query, body, look_up=True):
        """As find_or_create, for an object the API keeps unique by `query`: one a concurrent
        twin made after our look-up (our POST refused as not unique) is looked up again."""
        try:
            return self.find_or_create(url, query, body, look_up)
        except ZgwError as exc:
            found = self.find(url, **query) if NOT_UNIQUE in exc.codes else None
            if not found:
                raise
            return found[0]


def _invalid_params(response):
    """(name, code) of each field a problem answer refused; names and codes are the API's
    own words, cut short all the same."""
    try:
        params = response.json().get("invalidParams") or []
        return [(str(p.get("name"))[:80], str(p.get("code"))[:40]) for p in params][:10]
    except (ValueError, AttributeError):
        return []


def deliver(connection, dossier, delivery_id, timeout, today=None):
    """Register `dossier` (with its `dossier_pdf`) as a zaak; returns the zaak's identificatie."""
    c, api = _Client(connection, timeout), connection
    today = (today or datetime.now(timezone.utc).date()).isoformat()
    identificatie = f"OCKTO-{delivery_id}"
    zaak, new = _zaak(c, {
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
        document = c.find_or_create_unique(f"{api.documenten_api}/enkelvoudiginformatieobjecten", {
            "identificatie": f"{identificatie}-{suffix}", "bronorganisatie": api.rsin}, {
            "identificatie": f"{identificatie}-{suffix}", "bronorganisatie": api.rsin,
            "creatiedatum": today, "titel": title, "auteur": "Ockto", "taal": "nld",
            "formaat": form, "bestandsnaam": name, "bestandsomvang": len(content),
            "inhoud": base64.b64encode(content).decode("ascii"),
            "informatieobjecttype": api.informatieobjecttype,
            "vertrouwelijkheidaanduiding": "vertrouwelijk", "indicatieGebruiksrecht": False},
            look_up=not new)
        c.find_or_create(f"{api.zaken_api}/zaakinformatieobjecten", {
            "zaak": zaak["url"], "informatieobject": document["url"]}, {
            "zaak": zaak["url"], "informatieobject": document["url"], "titel": title}, look_up=not new)
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


def _zaak(c, body):
    """(the delivery's zaak, whether this run made it). Found, an earlier run made it and may
    have added to it: each of our objects is looked up before it is made. Made now, no earlier
    run got past it: our documents and their links are made without a look-up (a document
    made by a twin anyway is found when its POST is refused as not unique). When a concurrent
    run of the same delivery made the zaak after our look-up, this run stops (a ZgwError:
    tried again later) and leaves the rest to that one."""
    url = f"{c.connection.zaken_api}/zaken"
    found = c.find(url, identificatie=body["identificatie"], bronorganisatie=body["bronorganisatie"])
    if found:
        return found[0], False
    try:
        return c.call("POST", url, json=body), True
    except ZgwError as exc:
        if NOT_UNIQUE not in exc.codes:
            raise
        raise ZgwError(f"{body['identificatie']}: another run of this delivery made the zaak "
                       "at the same moment; this one stops, to be tried again") from None
