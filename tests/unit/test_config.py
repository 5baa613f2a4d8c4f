"""Settings: the environment, then the overrides, then what derives from both."""

import json
from pathlib import Path

import pytest

from webapp.config import ZGW_KEYS, Config, refusals
from webapp.domain import gemeenten


def test_unset_means_the_embedded_defaults_in_the_instance_folder(tmp_path):
    config = Config({"SECRET_KEY": "k"}, environ={"OCKTOREIS_INSTANCE": str(tmp_path)})
    assert config.DATABASE_URL == f"sqlite:///{tmp_path / 'ocktoreis.db'}"
    assert config.OUTBOX_DIR == str(tmp_path / "outbox")
    assert config.RABBITMQ_URL is None and config.REDIS_URL is None and config.MAIL_SERVER is None
    assert config.SESSION_COOKIE_SECURE is False


def test_the_environment_is_read_and_typed(tmp_path):
    config = Config({"INSTANCE_DIR": str(tmp_path), "SECRET_KEY": "k"}, environ={
        "REMINDER_DAYS": "14,5", "DEV_PAGES": "yes", "MAIL_PORT": "2525",
        "REQUIRED_SOURCES": '{"GM0193": ["duo"]}', "PUBLIC_URL": "https://ockto.example/"})
    assert config.REMINDER_DAYS == (5, 14) and config.DEV_PAGES is True and config.MAIL_PORT == 2525
    assert config.REQUIRED_SOURCES == {"GM0193": ["duo"]}
    assert config.PUBLIC_URL == "https://ockto.example" and config.SESSION_COOKIE_SECURE is True


def test_overrides_win_before_anything_is_derived(tmp_path):
    environ = {"OCKTOREIS_INSTANCE": str(tmp_path / "from-env"), "PUBLIC_URL": "http://a.example",
               "SECRET_KEY": "from-env", "RABBITMQ_URL": "amqp://shell", "REDIS_URL": "redis://shell"}
    config = Config({"INSTANCE_DIR": str(tmp_path / "given"), "PUBLIC_URL": "https://b.example",
                     "SECRET_KEY": "given", "RABBITMQ_URL": None, "REDIS_URL": None}, environ=environ)
    assert config.DATABASE_URL == f"sqlite:///{tmp_path / 'given' / 'ocktoreis.db'}"
    assert config.SESSION_COOKIE_SECURE is True  # from the override, not the environment
    assert config.GEMEENTE_SIGNING_SECRET == "given"
    assert config.RABBITMQ_URL is None and config.REDIS_URL is None
    assert not (tmp_path / "from-env").exists()


def test_without_a_secret_key_one_is_kept_in_the_instance_folder(tmp_path):
    first = Config(environ={"OCKTOREIS_INSTANCE": str(tmp_path)}).SECRET_KEY
    assert len(first) >= 48 and Config(environ={"OCKTOREIS_INSTANCE": str(tmp_path)}).SECRET_KEY == first
    assert (Path(tmp_path) / "secret_key").stat().st_mode & 0o077 == 0
    assert Config({"SECRET_KEY": "given"}, environ={"OCKTOREIS_INSTANCE": str(tmp_path / "x")}) \
        .SECRET_KEY == "given"
    assert not (tmp_path / "x").exists()  # a given key writes no file


def test_the_sources_token_is_derived_from_the_secret_key_unless_given(tmp_path):
    environ = {"OCKTOREIS_INSTANCE": str(tmp_path)}
    derived = Config({"SECRET_KEY": "one"}, environ=environ).SOURCES_TOKEN
    assert derived == Config({"SECRET_KEY": "one"}, environ=environ).SOURCES_TOKEN
    assert derived != Config({"SECRET_KEY": "two"}, environ=environ).SOURCES_TOKEN
    assert Config({"SECRET_KEY": "one"}, environ={**environ, "SOURCES_TOKEN": "given"}) \
        .SOURCES_TOKEN == "given"


PRODUCTION = {"OCKTOREIS_ENV": "production", "SECRET_KEY": "s" * 48, "PUBLIC_URL": "https://ockto.example",
              "DATABASE_URL": "postgresql+psycopg://db/ockto", "RABBITMQ_URL": "amqp://mq/%2F",
              "REDIS_URL": "redis://cache/0", "SIMULATORS": "0", "SAML_IDP_METADATA": "https://digid.example/saml/idp/metadata",
              "SAML_SP_KEY": "/etc/ockto/saml.key", "SAML_SP_CERT": "/etc/ockto/saml.crt",
              "SOURCES_URL": "https://bronnen.example", "GEMEENTE_URL": "https://gemeente.example",
              "GEMEENTE_BACKEND": "webhook", "TRUSTED_PROXIES": "1"}


def _refusals(tmp_path, **changes):
    environ = {**PRODUCTION, "OCKTOREIS_INSTANCE": str(tmp_path), **changes}
    return refusals(vars(Config(environ={k: v for k, v in environ.items() if v is not None})))


def test_a_proper_production_configuration_starts(tmp_path):
    assert _refusals(tmp_path) == []
    assert not (tmp_path / "secret_key").exists()


def test_production_refuses_each_dangerous_setting_with_a_line_of_its_own(tmp_path):
    lines = _refusals(tmp_path, SIMULATORS="1", DEV_PAGES="1", ACCEPTANCE_MODE="1",
                      RATE_LIMITS_OFF="1", PUBLIC_URL="http://ockto.example", SECRET_KEY=None,
                      REDIS_URL=None)
    assert len(lines) == 8, lines
    for fragment in ("SIMULATORS is on", "DEV_PAGES is on", "ACCEPTANCE_MODE is on",
                     "RATE_LIMITS_OFF is on", "https only", "SECRET_KEY is missing", "REDIS_URL is not set",
                     "RABBITMQ_URL is set but REDIS_URL is not"):
        assert any(fragment in line for line in lines), fragment
    assert not (tmp_path / "secret_key").exists()  # no key made up on one machine


def test_production_without_the_simulators_needs_the_real_outside_systems(tmp_path):
    assert _refusals(tmp_path, SOURCES_URL=None) == [
        "SOURCES_URL is not set: without the simulators it names the real system."]


def test_production_signs_with_its_own_saml_keys_and_names_digid(tmp_path):
    assert _refusals(tmp_path, SAML_SP_KEY=None, SAML_SP_CERT=None, SAML_IDP_METADATA=None) == [
        "SAML_IDP_METADATA is not set: name DigiD's metadata (a URL or a file).",
        "SAML_SP_KEY is not set: production signs with its own key and certificate (PKIoverheid), "
        "never generated ones.",
        "SAML_SP_CERT is not set: production signs with its own key and certificate (PKIoverheid), "
        "never generated ones."]


def test_production_says_how_many_proxies_stand_in_front_and_none_is_trusted_by_default(tmp_path):
    assert Config(environ={"OCKTOREIS_INSTANCE": str(tmp_path)}).TRUSTED_PROXIES == 0
    assert _refusals(tmp_path, TRUSTED_PROXIES=None) == [
        "TRUSTED_PROXIES is not set: say how many proxies stand in front (1 for one load balancer "
        "or nginx; 0 when this process terminates TLS itself)."]
    assert _refusals(tmp_path, TRUSTED_PROXIES="0") == []  # said explicitly: TLS ends here
    assert _refusals(tmp_path, OCKTOREIS_ENV="development", TRUSTED_PROXIES="-1") == [
        "TRUSTED_PROXIES is -1: it counts proxies, 0 or more."]


def test_a_database_pool_of_no_connections_is_refused(tmp_path):
    assert Config(environ={"OCKTOREIS_INSTANCE": str(tmp_path)}).DATABASE_POOL_SIZE == 15
    assert _refusals(tmp_path, OCKTOREIS_ENV="development", DATABASE_POOL_SIZE="0") == [
        "DATABASE_POOL_SIZE is 0: a process needs at least 1 connection."]


def test_acceptance_allows_the_qa_tools_but_no_made_up_or_short_secret(tmp_path):
    qa = {"OCKTOREIS_ENV": "acceptance", "SIMULATORS": "1", "DEV_PAGES": "1", "ACCEPTANCE_MODE": "1",
          "RATE_LIMITS_OFF": "1", "PUBLIC_URL": "http://qa.example", "DATABASE_URL": None,
          "RABBITMQ_URL": None, "REDIS_URL": None}
    assert _refusals(tmp_path, **qa) == []
    assert _refusals(tmp_path, **{**qa, "SECRET_KEY": None}) == [
        "SECRET_KEY is missing: set one (the same on every process, at least 32 random characters)."]
    assert _refusals(tmp_path, **{**qa, "SECRET_KEY": "short"}) == [
        "SECRET_KEY is shorter than 32 characters."]


def test_development_allows_anything_and_an_unknown_environment_is_refused(tmp_path):
    assert _refusals(tmp_path, OCKTOREIS_ENV="development", SIMULATORS="1", SECRET_KEY=None) == []
    assert _refusals(tmp_path, OCKTOREIS_ENV="prod") == [
        "OCKTOREIS_ENV is 'prod': it must be one of development, acceptance, production."]


@pytest.mark.parametrize("environment", ["development", "acceptance", "production"])
def test_jobs_on_rabbitmq_without_redis_are_refused_everywhere(tmp_path, environment):
    """The workers are other processes: the journeys' data keys must be in Redis for them."""
    refused = "RABBITMQ_URL is set but REDIS_URL is not: the workers need the journeys' data keys in Redis"
    lines = _refusals(tmp_path, OCKTOREIS_ENV=environment, REDIS_URL=None)
    assert any(line.startswith(refused) for line in lines), lines
    assert not any(line.startswith(refused) for line in _refusals(tmp_path, OCKTOREIS_ENV=environment))
    embedded = _refusals(tmp_path, OCKTOREIS_ENV="development", RABBITMQ_URL=None, REDIS_URL=None)
    assert embedded == []


ZGW = {"backend": "zgw", **{key: f"https://zaken.example/{key}" for key in ZGW_KEYS}}


def test_production_without_the_simulators_refuses_municipalities_it_cannot_deliver_to(tmp_path):
    everyone = {g.code: ZGW for g in gemeenten.all_gemeenten()}
    assert len(everyone) == 342
    assert _refusals(tmp_path, GEMEENTE_BACKEND=None, GEMEENTE_URL=None,
                     GEMEENTE_BACKENDS=json.dumps(everyone)) == []  # no webhook: no GEMEENTE_URL
    simulated = {**everyone, "GM0193": {"backend": "zgw"}, "GM0014": {**ZGW, "secret": ""}}
    assert _refusals(tmp_path, GEMEENTE_BACKEND=None, GEMEENTE_BACKENDS=json.dumps(simulated)) == [
        "GEMEENTE_BACKENDS[GM0014] lacks secret.",
        "2 municipalities deliver over zgw without a connection in GEMEENTE_BACKENDS (e.g. "
        f"GM0014, GM0193): give each its {', '.join(ZGW_KEYS)}, or set GEMEENTE_BACKEND=webhook."]
    [line] = _refusals(tmp_path, GEMEENTE_BACKEND=None)  # the default, zgw, for all
    assert line.startswith("342 municipalities deliver over zgw without a connection"), line
    assert _refusals(tmp_path, GEMEENTE_URL=None) == [
        "GEMEENTE_URL is not set: a webhook municipality without its own url delivers there."]
    own_urls = {g.code: {"backend": "webhook", "url": "https://a.example"}
                for g in gemeenten.all_gemeenten()}
    assert _refusals(tmp_path, GEMEENTE_URL=None, GEMEENTE_BACKENDS=json.dumps(own_urls)) == []


def test_a_municipality_backend_is_known_and_a_zgw_connection_complete(tmp_path):
    zgw = {"backend": "zgw", "zaken_api": "https://zaken.example/api/v1",
           "documenten_api": "https://documenten.example/api/v1",
           "catalogi_api": "https://catalogi.example/api/v1",
           "zaaktype": "https://catalogi.example/api/v1/zaaktypen/1",
           "informatieobjecttype": "https://catalogi.example/api/v1/informatieobjecttypen/2",
           "client_id": "ockto", "secret": "s" * 40, "rsin": "002220647"}
    backends = {"GM0193": zgw, "GM0363": {"backend": "webhook", "url": "https://a.example"},
                "GM0014": {"backend": "zgw"}}  # the simulator's, in development
    assert _refusals(tmp_path, OCKTOREIS_ENV="development",
                     GEMEENTE_BACKENDS=json.dumps(backends)) == []
    half = {**zgw, "secret": "", "rsin": None}
    assert _refusals(tmp_path, OCKTOREIS_ENV="development", GEMEENTE_BACKEND="mail",
                     GEMEENTE_BACKENDS=json.dumps(
        {"GM0193": half, "GM0363": {"backend": "fax"}})) == [
        "GEMEENTE_BACKEND is 'mail': zgw or webhook.",
        "GEMEENTE_BACKENDS[GM0193] lacks secret, rsin.",
        "GEMEENTE_BACKENDS[GM0363]: backend must be zgw or webhook."]
