"""Settings: the environment, then the overrides, then what derives from both."""

from pathlib import Path

from webapp.config import Config


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
