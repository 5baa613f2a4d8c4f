"""The municipality simulator's case system: the subset of the ZGW APIs a delivery uses.

Per municipality, under /gemeente/zgw/<code>/: the Zaken API (zaken, rollen, statussen,
zaakinformatieobjecten), the Documenten API (enkelvoudiginformatieobjecten and their download)
and the Catalogi API (the roltypen and statustypen of its one zaaktype). Every request and
every answer is checked against the specifications vendored in zgw_specs/ (openapi-core);
a request must carry the JWT of a known consumer (HS256, fresh `iat`) or it gets the 403
Open Zaak gives. The objects live in the inbox database, so every web process sees the same.
"""

import base64
import dataclasses
import functools
import json
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import jwt
import yaml
from flask import Blueprint, current_app, request
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from sqlalchemy import LargeBinary, String, Text, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from werkzeug.datastructures import Headers, ImmutableMultiDict

from webapp import zgw
from webapp.domain import gemeenten
from webapp.pages import personal

bp = personal(Blueprint("zgw_sim", __name__, url_prefix="/gemeente/zgw"))  # BSNs, dossiers

SPECS = Path(__file__).with_name("zgw_specs")
SPEC_FILES = {"zaken": "zaken-api-1.5.1.yaml", "documenten": "documenten-api-1.5.0.yaml",
              "catalogi": "catalogi-api-1.3.1.yaml"}
SPEC_ROOT = "http://zgw.invalid/api/v1"  # the specifications' server, as this module asks them
JWT_EXPIRY_S = 3600  # Open Zaak's JWT_EXPIRY: an older `iat` is refused
JWT_LEEWAY_S = 10
DOCUMENT_MAX_BYTES = 6 * 1024 * 1024  # a dossier PDF in base64; other requests stay at 64 KB


class ZgwBase(DeclarativeBase):
    pass


class ZgwObject(ZgwBase):
    """One table for every kind of object as served: a zaak, rol, status,
    zaakinformatieobject or enkelvoudiginformatieobject ("document")."""

    __tablename__ = "zgw_object"
    __table_args__ = (UniqueConstraint("gemeente_code", "kind", "identificatie"),)

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    gemeente_code: Mapped[str] = mapped_column(String(6), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    identificatie: Mapped[str | None] = mapped_column(String(40))  # zaken and documents
    zaak: Mapped[str | None] = mapped_column(String(36), index=True)  # the zaak's uuid
    created_at: Mapped[datetime]
    body: Mapped[str] = mapped_column(Text)  # the object as served, without relations
    content: Mapped[bytes | None] = mapped_column(LargeBinary)  # a document's bytes


def init_app(app):
    """Serve the APIs (the inbox database's tables: ZgwBase, created with the inbox's)."""
    app.register_blueprint(bp)


@bp.before_request
def _room_for_a_document():
    request.max_content_length = DOCUMENT_MAX_BYTES


@functools.cache
def specification(api):
    """The vendored OpenAPI document of `api`, its server set to SPEC_ROOT (parsed once)."""
    with (SPECS / SPEC_FILES[api]).open(encoding="utf-8") as file:
        document = yaml.load(file, Loader=yaml.CSafeLoader)
    document["servers"] = [{"url": SPEC_ROOT}]
    # No check of the specification itself: it is VNG's, unchanged (its hash in zgw_specs/
    # README.md, tests/unit/test_zgw_specs.py), and checking it costs seconds per process.
    config = Config(spec_validator_cls=None,
                    extra_media_type_deserializers={"application/problem+json": json.loads})
    return OpenAPI.from_dict(document, config=config)


@dataclasses.dataclass
class SpecRequest:
    """A request as openapi-core reads it, at the specification's own path."""

    method: str
    path: str
    parameters: RequestParameters
    body: bytes
    content_type: str
    host_url: str = "http://zgw.invalid"


@dataclasses.dataclass
class SpecResponse:
    status_code: int
    data: bytes
    content_type: str
    headers: Headers


def _problem(status, code, title, detail, invalid=None):
    """A problem answer; `invalid` holds (name, code, reason) per refused field."""
    body = {"type": f"https://zgw.invalid/fouten/{code}", "code": code, "title": title,
            "status": status, "detail": detail, "instance": f"urn:uuid:{uuid.uuid4()}"}
    if invalid is not None:
        body["invalidParams"] = [{"name": n, "code": c, "reason": r} for n, c, r in invalid]
    return status, body


class Refused(Exception):
    def __init__(self, status, body):
        self.answer = (status, body)


def _invalid(name, reason):
    return Refused(*_problem(400, "invalid", "Invalid input.", reason, [(name, "invalid", reason)]))


def _jwt_refusal(code):
    """None for the JWT of a known consumer of `code`'s APIs, else why not (Open Zaak: 403)."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return "no JWT"
    token = header.removeprefix("Bearer ")
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return "malformed JWT"
    if claims.get("client_id") != zgw.SIMULATOR_CLIENT_ID:
        return "unknown client_id"
    secret = zgw.simulator_secret(current_app.config["SECRET_KEY"], code)
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], leeway=JWT_LEEWAY_S,
                            options={"require": ["iat", "client_id"]})
    except jwt.InvalidTokenError as exc:
        return f"JWT refused: {type(exc).__name__}"
    if claims["iat"] < time.time() - JWT_EXPIRY_S - JWT_LEEWAY_S:
        return "JWT expired"
    return None


@bp.route("/<code>/<api>/api/v1/<path:resource>", methods=["GET", "POST"])
def serve(code, api, resource):
    """One ZGW call: the JWT, the request against the specification, the handler, and its
    answer against the specification too (a simulator that drifts from the standard fails)."""
    if gemeenten.by_code(code) is None or api not in SPEC_FILES:
        return {"detail": "not found"}, 404
    if code in current_app.extensions["gemeente_sim_outages"].down():
        return {"detail": "municipality unavailable"}, 503
    spec = specification(api)
    spec_request = SpecRequest(
        method=request.method.lower(), path=f"/api/v1/{resource}",
        parameters=RequestParameters(query=ImmutableMultiDict(request.args),
                                     header=Headers(request.headers), cookie=request.cookies),
        body=request.get_data(), content_type=request.content_type or "application/octet-stream")
    refusal = _jwt_refusal(code)
    if refusal:
        status, body = _problem(403, "permission_denied", "Je hebt geen toestemming om deze actie "
                                "uit te voeren.", refusal)
    else:
        invalid = [p for e in spec.iter_request_errors(spec_request) for p in _where(e)]
        if invalid:
            detail = "; ".join(f"{name}: {code}" for name, code, _ in invalid)[:1000]
            status, body = _problem(400, "invalid", "Invalid input.", detail, invalid)
        else:
            try:
                status, body = _handle(code, api, request.method, resource.strip("/").split("/"))
            except Refused as refused:
                status, body = refused.answer
    return _answer(api, spec_request, status, body)


def _where(error):
    """(name, code, reason) per part of a request or answer off the specification: where it is
    and which rule it breaks, never the value (a jsonschema message quotes it: a BSN, a
    document's content), so neither the answer nor the log holds one."""
    schema_errors = (getattr(error, "schema_errors", ())
                     or getattr(getattr(error, "__cause__", None), "schema_errors", ()))
    name = getattr(getattr(error, "param", None), "name", None) or getattr(error, "name", None)
    kind = type(error).__name__
    if not schema_errors:
        return [(name or "request", "invalid", kind)]
    return [(f"{name or 'body'}{e.json_path.removeprefix('$')}", e.validator, kind)
            for e in schema_errors]


def _answer(api, spec_request, status, body):
    spec = specification(api)
    headers = Headers({"API-version": zgw.API_VERSIONS[api]})
    if isinstance(body, bytes):
        data, content_type = body, "application/octet-stream"
    else:
        data = json.dumps(body).encode()
        content_type = "application/problem+json" if status >= 400 else "application/json"
    if status == 201:
        headers["Location"] = body["url"]
    if api == "zaken" and status < 400:
        headers["Content-Crs"] = "EPSG:4326"
    invalid = [p for e in spec.iter_response_errors(
        spec_request, SpecResponse(status, data, content_type, headers)) for p in _where(e)]
    if invalid:
        current_app.logger.error("ZGW simulator answer breaks the specification: %s",
                                 "; ".join(f"{name}: {code}" for name, code, _ in invalid))
        _, problem = _problem(500, "error", "Server error.", "answer off the spec")
        data = json.dumps(problem).encode()
        status, content_type = 500, "application/problem+json"
    return data, status, {**headers, "Content-Type": content_type}


# The handlers: (api, method, the resource path's shape) -> function(code, parts).

def _root(code):
    return f"{request.url_root.rstrip('/')}/gemeente/zgw/{code}"


def _url(code, api, collection, object_uuid):
    return f"{_root(code)}/{api}/api/v1/{collection}/{object_uuid}"


STATUSES = ((1, "Ontvangen"), (2, "Afgehandeld"))  # the zaaktype's statustypen


def _catalogue(code):
    """The municipality's catalogue: its zaaktype's roltype 'initiator' and two statustypen."""
    root, zaaktype = f"{_root(code)}/catalogi/api/v1", zgw.simulated_uuid(code, "zaaktype")
    zaaktype_url, catalogus = f"{root}/zaaktypen/{zaaktype}", f"{root}/catalogussen/" + \
        zgw.simulated_uuid(code, "catalogus")
    common = {"zaaktype": zaaktype_url, "zaaktypeIdentificatie": "GEMEENTEPOLIS",
              "catalogus": catalogus}
    roltypen = [{"url": f"{root}/roltypen/{zgw.simulated_uuid(code, 'roltype-initiator')}",
                 "omschrijving": "Aanvrager", "omschrijvingGeneriek": "initiator", **common}]
    statustypen = [{"url": f"{root}/statustypen/{zgw.simulated_uuid(code, f'statustype-{n}')}",
                    "omschrijving": name, "volgnummer": n, "isEindstatus": n == 2,
                    "informeren": False, "statustekst": name,
                    "zaakobjecttype": f"{root}/zaakobjecttypen/" + zgw.simulated_uuid(code, "zo"),
                    **common}
                   for n, name in STATUSES]
    informatieobjecttype = (f"{root}/informatieobjecttypen/"
                            f"{zgw.simulated_uuid(code, 'informatieobjecttype')}")
    return zaaktype_url, roltypen, statustypen, informatieobjecttype


def _same(url, catalogue_url):
    """The catalogue's object by its path: the client may know this host by another name
    (PUBLIC_URL, a proxy's) than the request came in on."""
    return urlsplit(url).path == urlsplit(catalogue_url).path


def _page(results):
    return 200, {"count": len(results), "next": None, "previous": None, "results": results}


def _session():
    return Session(current_app.extensions["gemeente_inbox"])


def _objects(inbox, code, kind, **where):
    return inbox.scalars(select(ZgwObject).filter_by(gemeente_code=code, kind=kind, **where)
                         .order_by(ZgwObject.created_at)).all()


def _view(inbox, code, obj):
    """The object as the API serves it, with the relations the specification asks for."""
    body = json.loads(obj.body)
    if obj.kind == "zaak":
        related = {kind: [json.loads(o.body)["url"] for o in _objects(inbox, code, kind,
                                                                       zaak=obj.uuid)]
                   for kind in ("rol", "status", "zaakinformatieobject")}
        body.update(rollen=related["rol"], zaakinformatieobjecten=related["zaakinformatieobject"],
                    status=(related["status"] or [None])[-1])
    elif obj.kind == "status":
        latest = _objects(inbox, code, "status", zaak=obj.zaak)[-1]
        body["indicatieLaatstGezetteStatus"] = latest.uuid == obj.uuid
    return body


def _matching(inbox, code, kind, **query):
    """The objects of `kind` whose served fields equal `query` (the list endpoints' filters);
    by identificatie and zaak through the columns, so a lookup reads few rows."""
    where = {}
    if query.get("identificatie"):
        where["identificatie"] = query["identificatie"]
    if kind != "zaak" and query.get("zaak"):
        where["zaak"] = query["zaak"].rstrip("/").rpartition("/")[2]
    views = [_view(inbox, code, o) for o in _objects(inbox, code, kind, **where)]
    return [v for v in views if all(str(v.get(k)) == value for k, value in query.items()
                                    if value is not None)]


def _zaak_uuid(code, url, inbox):
    object_uuid = url.rstrip("/").rpartition("/")[2]
    found = inbox.get(ZgwObject, object_uuid)
    if found is None or found.kind != "zaak" or found.gemeente_code != code or \
            json.loads(found.body)["url"] != url:
        raise _invalid("zaak", "Deze zaak bestaat niet.")
    return object_uuid


def _store(inbox, code, kind, body, zaak=None, identificatie=None, content=None):
    object_uuid = str(uuid.uuid4())
    collection = {"zaak": ("zaken", "zaken"), "rol": ("zaken", "rollen"),
                  "status": ("zaken", "statussen"),
                  "zaakinformatieobject": ("zaken", "zaakinformatieobjecten"),
                  "document": ("documenten", "enkelvoudiginformatieobjecten")}[kind]
    body = {"url": _url(code, *collection, object_uuid), "uuid": object_uuid, **body}
    if kind == "document":  # an enkelvoudiginformatieobject shows its url, and its content there
        del body["uuid"]
        body["inhoud"] = f"{body['url']}/download"
    inbox.add(ZgwObject(uuid=object_uuid, gemeente_code=code, kind=kind, zaak=zaak,
                        identificatie=identificatie, created_at=_now(), body=json.dumps(body),
                        content=content))
    try:
        inbox.commit()
    except IntegrityError:
        inbox.rollback()
        raise Refused(*_problem(  # as Open Zaak: identificatie is unique per bronorganisatie
            400, "invalid", "Invalid input.", "Deze identificatie bestaat al.",
            [("identificatie", zgw.NOT_UNIQUE, "Deze identificatie bestaat al.")])) from None
    return 201, _view(inbox, code, inbox.get(ZgwObject, object_uuid))


def _now():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _timestamp():
    return _now().replace(microsecond=0).isoformat() + "Z"


def _handle(code, api, method, parts):
    zaaktype, roltypen, statustypen, informatieobjecttype = _catalogue(code)
    body = request.get_json(silent=True) if method == "POST" else None
    query = request.args.to_dict()
    ours = _same(query.get("zaaktype", zaaktype), zaaktype)  # the catalogue's filter
    with _session() as inbox:
        match (api, method, parts):
            case ("catalogi", "GET", ["roltypen"]):
                return _page([r for r in roltypen if ours and query.get(
                    "omschrijvingGeneriek", "initiator") == "initiator"])
            case ("catalogi", "GET", ["statustypen"]):
                return _page(statustypen if ours else [])
            case (("zaken", "GET", ["zaken"])
                  | ("documenten", "GET", ["enkelvoudiginformatieobjecten"])):
                return _page(_matching(inbox, code, "zaak" if api == "zaken" else "document",
                                       identificatie=query.get("identificatie"),
                                       bronorganisatie=query.get("bronorganisatie")))
            case ("zaken", "POST", ["zaken"]):
                if not _same(body["zaaktype"], zaaktype):
                    raise _invalid("zaaktype", "Dit zaaktype staat niet in de catalogus.")
                for field in ("bronorganisatie", "verantwoordelijkeOrganisatie"):
                    if body[field] != zgw.simulated_rsin(code):
                        raise _invalid(field, "Dit is niet het RSIN van deze gemeente.")
                served = {**body, "identificatie": body.get("identificatie")
                          or f"ZAAK-{uuid.uuid4().hex[:12]}",
                          "registratiedatum": _now().date().isoformat(),
                          "betalingsindicatieWeergave": "", "einddatum": None, "resultaat": None,
                          "deelzaken": [], "eigenschappen": [], "zaakobjecten": []}
                return _store(inbox, code, "zaak", served, identificatie=served["identificatie"])
            case ("zaken", "GET", ["rollen"]):
                return _page(_matching(inbox, code, "rol", zaak=query.get("zaak"),
                                       omschrijvingGeneriek=query.get("omschrijvingGeneriek")))
            case ("zaken", "POST", ["rollen"]):
                zaak = _zaak_uuid(code, body["zaak"], inbox)
                roltype = next((r for r in roltypen if _same(r["url"], body["roltype"])), None)
                if roltype is None:
                    raise _invalid("roltype", "Dit roltype hoort niet bij het zaaktype.")
                return _store(inbox, code, "rol", {
                    **body, "omschrijving": roltype["omschrijving"],
                    "omschrijvingGeneriek": roltype["omschrijvingGeneriek"],
                    "roltoelichting": body.get("roltoelichting", ""),
                    "registratiedatum": _timestamp(), "statussen": []}, zaak=zaak)
            case ("zaken", "GET", ["statussen"]):
                return _page(_matching(inbox, code, "status", zaak=query.get("zaak"),
                                       statustype=query.get("statustype")))
            case ("zaken", "POST", ["statussen"]):
                zaak = _zaak_uuid(code, body["zaak"], inbox)
                if not any(_same(s["url"], body["statustype"]) for s in statustypen):
                    raise _invalid("statustype", "Dit statustype hoort niet bij het zaaktype.")
                return _store(inbox, code, "status", {**body, "zaakinformatieobjecten": []},
                              zaak=zaak)
            case ("zaken", "GET", ["zaakinformatieobjecten"]):
                return 200, _matching(inbox, code, "zaakinformatieobject", zaak=query.get("zaak"),
                                      informatieobject=query.get("informatieobject"))
            case ("zaken", "POST", ["zaakinformatieobjecten"]):
                zaak = _zaak_uuid(code, body["zaak"], inbox)
                if not _matching(inbox, code, "document", url=body["informatieobject"]):
                    raise _invalid("informatieobject", "Dit informatieobject bestaat niet.")
                if _matching(inbox, code, "zaakinformatieobject", zaak=body["zaak"],
                             informatieobject=body["informatieobject"]):
                    raise _invalid("informatieobject", "Dit informatieobject hoort al bij de zaak.")
                return _store(inbox, code, "zaakinformatieobject", {
                    **body, "aardRelatieWeergave": "Hoort bij, omgekeerd: kent",
                    "registratiedatum": _timestamp()}, zaak=zaak)
            case ("documenten", "POST", ["enkelvoudiginformatieobjecten"]):
                if not _same(body["informatieobjecttype"], informatieobjecttype):
                    raise _invalid("informatieobjecttype", "Dit type staat niet in de catalogus.")
                content = base64.b64decode(body.get("inhoud") or "")
                served = {**body, "versie": 1, "beginRegistratie": _timestamp(), "locked": False,
                          "bestandsdelen": [], "bestandsomvang": len(content)}
                return _store(inbox, code, "document", served,
                              identificatie=body.get("identificatie"), content=content)
            case ("documenten", "GET", ["enkelvoudiginformatieobjecten", object_uuid, "download"]):
                found = inbox.get(ZgwObject, object_uuid)
                if found is None or found.kind != "document" or found.gemeente_code != code:
                    raise Refused(*_problem(404, "not_found", "Niet gevonden.", object_uuid))
                return 200, found.content
    raise Refused(*_problem(405, "method_not_allowed", "Niet ondersteund.",
                            f"{method} {'/'.join(parts)} is not part of this simulator"))


@dataclasses.dataclass(frozen=True)
class ReceivedZaak:
    """A zaak as the staff inbox shows it: its status, initiator, documents and data."""

    id: str
    gemeente_code: str
    identificatie: str
    received_at: datetime
    status: str | None
    initiator_bsn: str | None
    documents: tuple  # (titel, formaat, uuid)
    body: dict  # the structured data (the JSON document), {} if none arrived
    pdf: str | None  # the PDF document's uuid


def received_zaken(inbox, code):
    """The zaken of municipality `code`, oldest first."""
    return [_received(inbox, code, z) for z in _objects(inbox, code, "zaak")]


def received_zaak(inbox, code, object_uuid):
    found = inbox.get(ZgwObject, object_uuid)
    if found is None or found.kind != "zaak" or found.gemeente_code != code:
        return None
    return _received(inbox, code, found)


def document_content(inbox, code, object_uuid):
    found = inbox.get(ZgwObject, object_uuid)
    if found is None or found.kind != "document" or found.gemeente_code != code:
        return None
    return found.content


def _received(inbox, code, zaak):
    by_url = {json.loads(d.body)["url"]: d for d in _objects(inbox, code, "document")}
    linked = [by_url[json.loads(z.body)["informatieobject"]]
              for z in _objects(inbox, code, "zaakinformatieobject", zaak=zaak.uuid)]
    documents = tuple((json.loads(d.body)["titel"], json.loads(d.body).get("formaat"), d.uuid)
                      for d in linked)
    data = next((json.loads(d.content) for d in linked
                 if json.loads(d.body).get("formaat") == "application/json"), {})
    pdf = next((d.uuid for d in linked if json.loads(d.body).get("formaat") == "application/pdf"),
               None)
    statuses = _objects(inbox, code, "status", zaak=zaak.uuid)
    names = {zgw.simulated_uuid(code, f"statustype-{n}"): name for n, name in STATUSES}
    status = (names.get(json.loads(statuses[-1].body)["statustype"].rpartition("/")[2])
              if statuses else None)
    rollen = [json.loads(r.body) for r in _objects(inbox, code, "rol", zaak=zaak.uuid)]
    initiator = next((r["betrokkeneIdentificatie"].get("inpBsn") for r in rollen
                      if r["omschrijvingGeneriek"] == "initiator"), None)
    return ReceivedZaak(id=zaak.uuid, gemeente_code=code, identificatie=zaak.identificatie,
                        received_at=zaak.created_at, status=status, initiator_bsn=initiator,
                        documents=documents, body=data, pdf=pdf)
