"""What the bytes on disk hold: the journey's personal values, in every encoding the app
writes them in, searched in the raw files of SQLite and PostgreSQL, in Redis's folder, and
in what went over the wire (logs, queue messages, Redis events)."""

import base64
import json
import re
from datetime import timedelta
from pathlib import Path

import redis
from sqlalchemy import text

from webapp import privacy
from webapp.clock import utcnow
from webapp.domain import sources as catalogue
from webapp.simulators import population
from webapp.simulators.population import FATIMA, JAN

EMAIL = "aanvrager@example.org"  # helpers.application_form's


def _leaves(data, name=None):
    """(name, value) of every value in the sources' JSON."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, key)
    elif isinstance(data, list):
        for value in data:
            yield from _leaves(value, name)
    elif data is not None and not isinstance(data, bool):
        yield name, data


def fetched_values(citizens=(JAN, FATIMA)):
    """What only the fetched data holds: amounts, addresses, birth dates, employers, as the
    sources send them (the JSON the app seals: a figure as '"box1": 14831') and as the review
    screen shows them ('€ 14.831'); not the BSNs and names the application carries too.
    Generic words ('Gehuwd', a year, '67 jaar') are left out: they are nobody's."""
    values = set()
    for citizen in citizens:
        for source in catalogue.SOURCES:
            data = population.source_data(source.key, citizen.bsn)
            for name, value in _leaves(data):
                if isinstance(value, int):
                    # bare, a short figure turns up by chance in any file (WAL: everyone's)
                    values.add(json.dumps({name: value})[1:-1])
                    value = str(value)
                if _specific(value):
                    values.add(value)
            values.update(value for _term, value in catalogue.describe(source.key, data)
                          if _specific(value))
    return sorted(values - {c.name for c in (JAN, FATIMA)} - {c.bsn for c in (JAN, FATIMA)})


def _specific(value):
    """A value that names someone's data rather than anyone's: a figure of five or more
    digits, a date, an address, an employer."""
    if re.fullmatch(r"\d+", value):
        return len(value) >= 5
    return not re.fullmatch(r"Gehuwd|Ongehuwd|Samenwonend|Zwolle|Geen .*|\d+ jaar.*|€\s\d{1,2}", value)


def personal_values(citizens=(JAN, FATIMA)):
    """Everything personal of the journey: BSNs, names, the e-mail, and the fetched values."""
    return sorted({*(c.bsn for c in citizens), *(c.name for c in citizens), EMAIL,
                   *fetched_values(citizens)})


def encodings(value):
    """The bytes of `value` in every encoding the app or its databases use: UTF-8 (SQLite,
    PostgreSQL, logs), UTF-16 (an SQLite database may be), and a JSON string's escapes."""
    forms = {value.encode("utf-8"), value.encode("utf-16-le"),
             json.dumps(value)[1:-1].encode("ascii")}
    return sorted(forms)


def key_forms(key):
    """A data key as raw bytes, hex, and base64 (standard and URL-safe, as Fernet wrote it)."""
    return [key, key.hex().encode(), base64.b64encode(key).rstrip(b"="),
            base64.urlsafe_b64encode(key).rstrip(b"=")]


def _pattern(values, around):
    """One regex for all the values' byte forms; a form that begins (ends) with a character of
    `around` must not continue a longer run of them: a figure inside a timestamp's
    microseconds, or, in text, inside a random id, is nobody's."""
    edge = re.compile(b"[" + around + b"]")
    alternatives = []
    for form in (form for value in values for form in encodings(value)):
        before = b"(?<![" + around + b"])" if edge.fullmatch(form[:1]) else b""
        after = b"(?![" + around + b"])" if edge.fullmatch(form[-1:]) else b""
        alternatives.append(before + re.escape(form) + after)
    return re.compile(b"|".join(alternatives))


def find_values(data, values, around=b"0-9"):
    """The values found in `data` (bytes), by their text; in text such as logs pass
    around=b"0-9A-Za-z" (a figure inside a random id is nobody's)."""
    if not values:
        return set()
    found = set()
    for match in _pattern(values, around).finditer(data):
        for value in values:
            if match.group(0) in encodings(value):
                found.add(value)
    return found


def find_key(data, key):
    return any(form in data for form in key_forms(key))


def read(path):
    try:
        return Path(path).read_bytes()
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        return b""  # another test's database dropped meanwhile


def files_under(folder):
    return [p for p in Path(folder).rglob("*") if p.is_file()]


# SQLite: the database file and its -wal and -shm.

def sqlite_files(app):
    database = Path(app.config["DATABASE_URL"].removeprefix("sqlite:///"))
    return [database, Path(f"{database}-wal"), Path(f"{database}-shm")]


def sqlite_findings(app, values, key):
    """{file name: what of `values` (and 'the key') it holds as bytes}; {} when nothing."""
    findings = {}
    for path in sqlite_files(app):
        data = read(path)
        found = find_values(data, values) | ({"the key"} if find_key(data, key) else set())
        if found:
            findings[path.name] = sorted(found)
    return findings


# PostgreSQL: the journey tables' files, the WAL written since the test began, the data dir.

JOURNEY_TABLES = ("application", "journey", "person", "source_fetch", "receipt", "pairing_token",
                  "outbox")


def _lsn(value):
    high, low = value.split("/")
    return (int(high, 16) << 32) + int(low, 16)


class PostgresDisk:
    """The files of one test database's cluster, as root reads them."""

    def __init__(self, engine):
        self.engine = engine
        with engine.connect() as connection:
            self.data_dir = Path(connection.execute(text("SHOW data_directory")).scalar())
            self.segment = int(connection.execute(text(
                "SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'")).scalar())
            start = connection.execute(text("SELECT pg_current_wal_lsn()")).scalar()
            self.timeline = connection.execute(
                text("SELECT pg_walfile_name(pg_current_wal_lsn())")).scalar()[:8]
        self.start = _lsn(start)

    def checkpoint(self):
        """Everything written so far is in the files (tables and WAL)."""
        with self.engine.connect() as connection:
            connection.execute(text("CHECKPOINT"))
            connection.commit()
            return _lsn(connection.execute(text("SELECT pg_current_wal_flush_lsn()")).scalar())

    def table_files(self):
        """The journey tables' files, their TOAST tables' and their indexes'."""
        query = text("""
            SELECT pg_relation_filepath(c.oid) FROM pg_class c
             WHERE c.oid IN (
               SELECT t.oid FROM pg_class t WHERE t.relname = ANY(:tables) AND t.relkind = 'r'
               UNION SELECT t.reltoastrelid FROM pg_class t
                      WHERE t.relname = ANY(:tables) AND t.reltoastrelid <> 0
               UNION SELECT i.indexrelid FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
                      WHERE t.relname = ANY(:tables))""")
        with self.engine.connect() as connection:
            paths = connection.execute(query, {"tables": list(JOURNEY_TABLES)}).scalars().all()
        files = []
        for relative in paths:
            base = self.data_dir / relative
            files += [base, *sorted(base.parent.glob(base.name + ".*"))]  # 1 GB segments, fsm, vm
        return files

    def wal_since_start(self, end):
        """The WAL bytes written from the test's start to `end`; segments recycled meanwhile
        (renamed, their bytes kept) are read whole."""
        per_id = 0x100000000 // self.segment
        chunks, missing = [], False
        for number in range(self.start // self.segment, end // self.segment + 1):
            name = f"{self.timeline}{number // per_id:08X}{number % per_id:08X}"
            data = read(self.data_dir / "pg_wal" / name)
            if not data:
                missing = True
                continue
            first = self.start - number * self.segment if number == self.start // self.segment else 0
            last = end - number * self.segment if number == end // self.segment else self.segment
            chunks.append(data[max(first, 0):last])
        if missing:
            chunks += [read(p) for p in (self.data_dir / "pg_wal").iterdir() if p.is_file()]
        return b"".join(chunks)

    def findings(self, values, key=None):
        """{where: what} of `values` in the journey tables' files and the WAL since the
        start, and of the key anywhere in the data directory; {} when nothing.

        The WAL holds every database's changes (other tests' too): a value counts as text of
        its own, not inside a longer word or number (in the sources' JSON it stands between
        quotes, spaces or colons)."""
        end = self.checkpoint()
        findings = {}
        for path in self.table_files():
            if found := find_values(read(path), values, around=b"0-9A-Za-z"):
                findings[str(path.relative_to(self.data_dir))] = sorted(found)
        if found := find_values(self.wal_since_start(end), values, around=b"0-9A-Za-z"):
            findings["WAL since the test began"] = sorted(found)
        if key is not None:
            for path in files_under(self.data_dir):
                if find_key(read(path), key):
                    findings[str(path.relative_to(self.data_dir))] = ["the key"]
        return findings


# Redis: its events, and its folder.

class RedisEvents:
    """Every message published on a Redis while the test runs (PSUBSCRIBE *)."""

    def __init__(self, url):
        self.messages = []
        self._pubsub = redis.Redis.from_url(url).pubsub()
        self._pubsub.psubscribe(**{"*": self.messages.append})
        self._thread = self._pubsub.run_in_thread(sleep_time=0.05, daemon=True)

    def data(self):
        return b"\n".join(m["data"] for m in self.messages if isinstance(m["data"], bytes))

    def close(self):
        self._thread.stop()  # the thread closes the connection itself when its loop ends
        self._thread.join(timeout=10)


# The exit paths: how a journey at its review ends.

def _send(walk, app):
    walk.phone.post("/app/versturen", data={"toestemming": "ja"})


def _time_to_live(walk, app):
    assert privacy.purge_overdue(utcnow() + timedelta(hours=app.config["JOURNEY_TTL_HOURS"],
                                                      minutes=1)) == (1, 0)


EXITS = {  # name: (how, the receipt's outcome)
    "sent": (_send, "delivered"),
    "refused": (lambda walk, app: walk.phone.post("/app/niet-versturen"), "consent_refused"),
    "stopped on the desktop": (lambda walk, app: walk.desktop.post(f"{walk.journey_url}/stoppen"),
                               "cancelled"),
    "stopped on the phone": (lambda walk, app: walk.phone.post("/app/stoppen"), "cancelled"),
    "app closed": (lambda walk, app: walk.phone.post("/app/afsluiten"), "app_closed"),
    "time to live": (_time_to_live, "expired"),
}
