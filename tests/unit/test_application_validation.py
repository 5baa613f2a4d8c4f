"""Step 1: the application form, validated with a Dutch message per field."""

import pytest

from webapp.domain.application import MAX_EMAIL, MAX_NAME, ApplicationInput, validate_application

OWN_BSN = "999900006"
PARTNER_BSN = "999900018"


def _form(**changes):
    form = {
        "gemeente": "Zwolle",
        "naam": "Jan de Vries",
        "email": "jan@example.org",
        "bsn": OWN_BSN,
        "partner": "nee",
        "partner_naam": "",
        "partner_bsn": "",
    }
    form.update(changes)
    return form


def _with_partner(**changes):
    partner = {"partner": "ja", "partner_naam": "Fatima de Vries-El Amrani",
               "partner_bsn": PARTNER_BSN}
    return _form(**{**partner, **changes})


def _only_error(form):
    """The single (field, message) the form is refused for."""
    result, errors = validate_application(form)
    assert result is None
    assert len(errors) == 1, errors
    return next(iter(errors.items()))


# --- valid forms ---------------------------------------------------------------------

def test_a_valid_form_gives_an_application_for_the_municipality_code():
    result, errors = validate_application(_form(bsn="9999.00.006"))
    assert errors == {}
    assert result == ApplicationInput(
        gemeente_code="GM0193", name="Jan de Vries", email="jan@example.org",
        bsn="999900006", has_partner=False, partner_name=None, partner_bsn=None)


@pytest.mark.parametrize("typed", ["9999.00.006", "9999 00 006", "9999-00-006", " 999900006 "])
def test_the_bsn_is_normalised(typed):
    result, errors = validate_application(_form(bsn=typed))
    assert errors == {}
    assert result.bsn == "999900006"


def test_surrounding_whitespace_is_stripped_from_every_field():
    result, errors = validate_application(
        _form(gemeente="  Zwolle ", naam="  Jan de Vries\n", email=" jan@example.org\t"))
    assert errors == {}
    assert result.name == "Jan de Vries"
    assert result.email == "jan@example.org"
    assert result.gemeente_code == "GM0193"


def test_a_valid_form_with_partner_keeps_the_partner():
    result, errors = validate_application(_with_partner())
    assert errors == {}
    assert result.has_partner is True
    assert result.partner_name == "Fatima de Vries-El Amrani"
    assert result.partner_bsn == PARTNER_BSN


def test_the_partner_bsn_is_optional():
    result, errors = validate_application(_with_partner(partner_bsn=""))
    assert errors == {}
    assert result.has_partner is True
    assert result.partner_bsn is None


def test_the_partner_bsn_is_normalised():
    result, errors = validate_application(_with_partner(partner_bsn="9999.00.018"))
    assert errors == {}
    assert result.partner_bsn == PARTNER_BSN


def test_partner_fields_are_ignored_without_a_partner():
    result, errors = validate_application(
        _form(partner="nee", partner_naam="Iemand", partner_bsn="12345"))
    assert errors == {}
    assert result.has_partner is False
    assert result.partner_name is None
    assert result.partner_bsn is None


@pytest.mark.parametrize(
    ("typed", "code"),
    [("ZWOLLE", "GM0193"), ("zwolle", "GM0193"),
     ("súdwest-fryslân", "GM1900"), ("Súdwest-Fryslân", "GM1900"), ("sudwest-fryslan", "GM1900"),
     ("SÚDWEST-FRYSLÂN", "GM1900")],
)
def test_the_municipality_name_ignores_case_and_accents(typed, code):
    result, errors = validate_application(_form(gemeente=typed))
    assert errors == {}
    assert result.gemeente_code == code


def test_a_name_of_exactly_the_maximum_length_is_accepted():
    result, errors = validate_application(_form(naam="a" * MAX_NAME))
    assert errors == {}
    assert result.name == "a" * MAX_NAME


@pytest.mark.parametrize("name", ["Zoë Çelik-Ørsted", "Fatima de Vries-El Amrani", "D'Angelo", "李小龍"])
def test_names_with_accents_and_punctuation_are_accepted(name):
    result, errors = validate_application(_form(naam=name))
    assert errors == {}
    assert result.name == name


# --- errors per field ----------------------------------------------------------------

def test_every_error_is_reported_at_once_for_an_empty_form():
    result, errors = validate_application({})
    assert result is None
    assert errors == {
        "gemeente": "Vul de naam van uw gemeente in.",
        "naam": "Vul uw naam in.",
        "email": "Vul uw e-mailadres in.",
        "bsn": "Vul uw burgerservicenummer (BSN) in.",
        "partner": "Geef aan of u een partner heeft.",
    }


def test_fields_sent_as_none_count_as_missing():
    result, errors = validate_application({field: None for field in _form()})
    assert result is None
    assert set(errors) == {"gemeente", "naam", "email", "bsn", "partner"}


@pytest.mark.parametrize("value", ["", "   "])
def test_missing_municipality_is_refused(value):
    assert _only_error(_form(gemeente=value)) == ("gemeente", "Vul de naam van uw gemeente in.")


@pytest.mark.parametrize("value", ["Atlantis", "Zwol", "Amsterdam-Noord"])
def test_unknown_municipality_is_refused(value):
    assert _only_error(_form(gemeente=value)) == (
        "gemeente", "Deze gemeente kennen wij niet. Kies uw gemeente uit de lijst.")


@pytest.mark.parametrize("value", ["", "  "])
def test_missing_name_is_refused(value):
    assert _only_error(_form(naam=value)) == ("naam", "Vul uw naam in.")


def test_too_long_name_is_refused():
    assert _only_error(_form(naam="a" * (MAX_NAME + 1))) == (
        "naam", "Een naam is maximaal 100 tekens.")


@pytest.mark.parametrize("name", ["Jan\x00de Vries", "Jan\x1bde Vries", "Jan\tde Vries",
                                  "Jan\u200bde Vries", "Jan\nde Vries", "Jan\x7f"],
                         ids=["nul", "escape", "tab", "zero-width-space", "newline", "delete"])
def test_control_characters_in_a_name_are_refused(name):
    assert _only_error(_form(naam=name)) == ("naam", "Een naam mag geen onzichtbare tekens bevatten.")


def test_missing_email_is_refused():
    assert _only_error(_form(email="")) == ("email", "Vul uw e-mailadres in.")


@pytest.mark.parametrize("email", ["jan", "jan@", "@example.org", "jan@example", "jan example@x.nl",
                                   "jan@@example.org", "jan@exa mple.org",
                                   "j" * (MAX_EMAIL - len("@example.org") + 1) + "@example.org"],
                         ids=["no-at", "no-domain", "no-local-part", "no-dot", "space",
                              "double-at", "space-in-domain", "too-long"])
def test_invalid_email_is_refused(email):
    assert _only_error(_form(email=email)) == (
        "email", "Vul een geldig e-mailadres in, bijvoorbeeld naam@voorbeeld.nl.")


def test_email_of_the_longest_length_mail_allows_is_accepted():
    domain = ".".join(["d" * 63, "e" * 63, "f" * 58, "nl"])  # labels of at most 63
    email = "j" * 64 + "@" + domain  # at most 64 before the @
    assert len(email) == MAX_EMAIL
    result, errors = validate_application(_form(email=email))
    assert errors == {}
    assert result.email == email


@pytest.mark.parametrize(("email", "message"), [
    ("a\u202eb@example.nl", "geen onzichtbare tekens"),  # right-to-left override
    ("a\u200bb@example.nl", "geen onzichtbare tekens"),  # zero-width space
    ("a\x00b@example.nl", "geen onzichtbare tekens"),
    ("tëst@example.nl", "alleen letters zonder accenten"),
    ("j" * 65 + "@example.org", "Vul een geldig e-mailadres in")],
    ids=["bidi", "zero-width", "nul", "accent-before-the-at", "65-before-the-at"])
def test_an_address_the_mail_cannot_be_sent_to_is_refused_in_dutch(email, message):
    field, error = _only_error(_form(email=email))
    assert field == "email" and message in error


def test_a_domain_with_accents_is_kept_in_the_form_the_mail_is_sent_to():
    result, errors = validate_application(_form(email="test@exämple.nl"))
    assert errors == {} and result.email == "test@xn--exmple-cua.nl"


def test_missing_bsn_is_refused():
    assert _only_error(_form(bsn="")) == ("bsn", "Vul uw burgerservicenummer (BSN) in.")


def test_bsn_of_only_separators_counts_as_missing():
    assert _only_error(_form(bsn=" .-. ")) == ("bsn", "Vul uw burgerservicenummer (BSN) in.")


@pytest.mark.parametrize("bsn", ["99990000", "9999000060", "99990000a", "abcdefghi"],
                         ids=["8-digits", "10-digits", "letter", "letters"])
def test_bsn_that_is_not_nine_digits_is_refused(bsn):
    assert _only_error(_form(bsn=bsn)) == ("bsn", "Een BSN bestaat uit 9 cijfers.")


@pytest.mark.parametrize("bsn", ["999900007", "999900060", "000000000"])
def test_bsn_that_fails_the_eleven_test_is_refused(bsn):
    assert _only_error(_form(bsn=bsn)) == ("bsn", "Dit is geen geldig BSN. Controleer de cijfers.")


def test_bsn_in_fullwidth_digits_is_refused():
    field, _message = _only_error(_form(bsn="９９９９００００６"))
    assert field == "bsn"


@pytest.mark.parametrize("value", ["", "misschien", "yes", "JA"])
def test_partner_choice_must_be_ja_or_nee(value):
    assert _only_error(_form(partner=value)) == ("partner", "Geef aan of u een partner heeft.")


def test_partner_without_name_is_refused():
    assert _only_error(_with_partner(partner_naam="")) == (
        "partner_naam", "Vul de naam van uw partner in.")


def test_partner_with_too_long_name_is_refused():
    assert _only_error(_with_partner(partner_naam="b" * (MAX_NAME + 1))) == (
        "partner_naam", "Een naam is maximaal 100 tekens.")


def test_partner_name_with_control_characters_is_refused():
    assert _only_error(_with_partner(partner_naam="Fatima\x07")) == (
        "partner_naam", "Een naam mag geen onzichtbare tekens bevatten.")


def test_partner_bsn_that_fails_the_eleven_test_is_refused():
    assert _only_error(_with_partner(partner_bsn="999900019")) == (
        "partner_bsn", "Dit is geen geldig BSN. Controleer de cijfers.")


def test_partner_bsn_that_is_not_nine_digits_is_refused():
    assert _only_error(_with_partner(partner_bsn="12345")) == (
        "partner_bsn", "Een BSN bestaat uit 9 cijfers.")


def test_partner_bsn_equal_to_own_bsn_is_refused():
    assert _only_error(_with_partner(partner_bsn=OWN_BSN)) == (
        "partner_bsn", "Het BSN van uw partner is hetzelfde als dat van u.")


def test_partner_bsn_equal_to_own_bsn_is_refused_when_typed_differently():
    assert _only_error(_with_partner(bsn="9999 00 006", partner_bsn="9999.00.006")) == (
        "partner_bsn", "Het BSN van uw partner is hetzelfde als dat van u.")


def test_several_errors_are_reported_together():
    result, errors = validate_application(
        _with_partner(gemeente="Atlantis", email="nope", partner_naam=""))
    assert result is None
    assert set(errors) == {"gemeente", "email", "partner_naam"}
