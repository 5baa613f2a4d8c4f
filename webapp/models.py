"""Tables. Columns marked personal are emptied by the purge; the rest is a receipt."""

from datetime import date, datetime

from sqlalchemy import Enum, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import Base
from .domain.application import ApplicationStatus
from .domain.funnel import FunnelStep
from .domain.journey import JourneyState, Outcome, Role
from .domain.sources import FetchStatus


def _enum(values, length):
    """A column that holds an enum's values as plain strings and reads them back as members."""
    return Enum(values, native_enum=False, create_constraint=False, length=length,
                values_callable=lambda members: [member.value for member in members])


class Application(Base):
    """Step 1: the application at Gezondverzekerd.nl."""

    __tablename__ = "application"
    # The clock's sweep reads only the rows with mail to come: a small partial index.
    __table_args__ = (Index("ix_application_next_mail_at", "next_mail_at",
                            postgresql_where=text("next_mail_at IS NOT NULL"),
                            sqlite_where=text("next_mail_at IS NOT NULL")),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime]
    gemeente_code: Mapped[str] = mapped_column(String(6))
    status: Mapped[ApplicationStatus] = mapped_column(_enum(ApplicationStatus, 16),
                                                      default=ApplicationStatus.INVITED)
    has_partner: Mapped[bool]
    invitation_sent_at: Mapped[datetime | None]  # the reminders count from here
    expires_at: Mapped[datetime | None]  # the personal link works until then
    reminders_sent: Mapped[int] = mapped_column(default=0)  # number of the last one sent
    next_mail_at: Mapped[datetime | None]  # when the clock enqueues this application's mail
    mail_claimed_until: Mapped[datetime | None]  # a worker is sending it until then
    purged_at: Mapped[datetime | None]
    # the last step the funnel counted for it (webapp.funnel), and when
    funnel_step: Mapped[FunnelStep | None] = mapped_column(_enum(FunnelStep, 16))
    funnel_step_at: Mapped[datetime | None]
    # nl or en (webapp.i18n): its mails, and every device that opens its link, speak it
    language: Mapped[str] = mapped_column(String(5), default="nl")
    # personal
    name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    bsn: Mapped[str | None] = mapped_column(String(9))
    partner_name: Mapped[str | None] = mapped_column(String(100))
    partner_bsn: Mapped[str | None] = mapped_column(String(9))

    journeys: Mapped[list["Journey"]] = relationship(back_populates="application")


class Journey(Base):
    """One Ocktoreis: from the start button to 'Ockto heeft niets opgeslagen'."""

    __tablename__ = "journey"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id"))
    state: Mapped[JourneyState] = mapped_column(_enum(JourneyState, 24))
    phone_only: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    desktop_secret_hash: Mapped[str] = mapped_column(String(64))
    pairing_nonce: Mapped[str | None] = mapped_column(String(32))
    pairing_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    pairing_expires_at: Mapped[datetime | None]
    pairing_code_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    phone_secret_hash: Mapped[str | None] = mapped_column(String(64))
    paired_at: Mapped[datetime | None]
    # when its data key was made (webapp.keys): the key itself is never in the database
    key_made_at: Mapped[datetime | None]
    delivery_failures: Mapped[int] = mapped_column(default=0)
    delivery_delayed_at: Mapped[datetime | None]  # the delivery failed all its retries
    # a device scanned one of its QR codes when it no longer worked (the desktop warns)
    second_device_at: Mapped[datetime | None]
    # a run of the delivery holds it until then (journeys.deliver): one run at a time
    delivering_until: Mapped[datetime | None]
    # grows by one for every progress view published (journeys.publish): orders live updates
    version: Mapped[int] = mapped_column(default=0)

    application: Mapped[Application] = relationship(back_populates="journeys")
    persons: Mapped[list["Person"]] = relationship(order_by="Person.id", cascade="all")
    fetches: Mapped[list["SourceFetch"]] = relationship(order_by="SourceFetch.id",
                                                        cascade="all")

    def person(self, role):
        return next((p for p in self.persons if p.role == role), None)

    def fetches_of(self, role):
        return [f for f in self.fetches if f.role == role]


class Person(Base):
    """Someone who logged in with DigiD during the journey: the applicant or the partner."""

    __tablename__ = "person"
    __table_args__ = (UniqueConstraint("journey_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    journey_id: Mapped[str] = mapped_column(ForeignKey("journey.id"))
    role: Mapped[Role] = mapped_column(_enum(Role, 10))
    logged_in_at: Mapped[datetime]
    sealed_bsn: Mapped[bytes | None] = mapped_column(LargeBinary)  # personal, sealed (webapp.keys)


class SourceFetch(Base):
    """One source for one person: its progress and, once fetched, its encrypted data."""

    __tablename__ = "source_fetch"
    __table_args__ = (UniqueConstraint("journey_id", "role", "source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    journey_id: Mapped[str] = mapped_column(ForeignKey("journey.id"))
    role: Mapped[Role] = mapped_column(_enum(Role, 10))
    source: Mapped[str] = mapped_column(String(20))
    status: Mapped[FetchStatus] = mapped_column(_enum(FetchStatus, 10))
    attempts: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime]
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)  # personal, sealed (webapp.keys)


class Receipt(Base):
    """What remains of a journey after the purge: the consent record and the outcome."""

    __tablename__ = "receipt"

    journey_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    gemeente_code: Mapped[str] = mapped_column(String(6))
    outcome: Mapped[Outcome | None] = mapped_column(_enum(Outcome, 16))
    consent_at: Mapped[datetime | None]
    consent_sources: Mapped[str | None] = mapped_column(Text)  # "applicant:uwv,partner:duo"
    consent_roles: Mapped[str | None] = mapped_column(String(32))
    delivery_reference: Mapped[str | None] = mapped_column(String(64))
    delivered_at: Mapped[datetime | None]
    purged_at: Mapped[datetime | None]


class PairingToken(Base):
    """A QR code's token, as a hash: valid for a short while, then kept to recognise a late scan."""

    __tablename__ = "pairing_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    journey_id: Mapped[str] = mapped_column(ForeignKey("journey.id"), index=True)
    valid_until: Mapped[datetime]
    refused_at: Mapped[datetime | None]  # another device scanned it when it no longer worked


class OutboxMessage(Base):
    """A job requested in the same transaction as the change that needs it (webapp.outbox):
    sent to the queue right after the commit, and again by the clock until that succeeded."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    message_id: Mapped[str] = mapped_column(String(36), unique=True)  # the same on every send
    actor: Mapped[str] = mapped_column(String(40))
    args: Mapped[str] = mapped_column(Text)  # JSON: ids only, never personal data
    request_id: Mapped[str | None] = mapped_column(String(64))  # of the request that asked


class ClockTick(Base):
    """When the clock last ran its sweeps (for the operators' alert that it stopped)."""

    __tablename__ = "clock_tick"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    at: Mapped[datetime]


class FunnelDay(Base):
    """The funnel's daily aggregates (webapp.funnel): how many applications made on `day` in a
    municipality reached `step`, with `reminders_sent` mails had then, `bucket` (log-scale) the
    time since their step before. Nothing personal: no ids, no names, no exact times."""

    __tablename__ = "funnel_day"

    day: Mapped[date] = mapped_column(primary_key=True)  # the application's, in Dutch time
    gemeente_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    step: Mapped[FunnelStep] = mapped_column(_enum(FunnelStep, 16), primary_key=True)
    reminders_sent: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    bucket: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # UNTIMED: -1
    count: Mapped[int]


class OperatorSession(Base):
    """An operator signed in to the dashboard: the hash of the random id in their cookie."""

    __tablename__ = "operator_session"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime]
