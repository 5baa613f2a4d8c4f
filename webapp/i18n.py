"""Languages: Dutch (the source language and default) and English, from gettext catalogues.

The catalogues are `webapp/translations/<language>/LC_MESSAGES/messages.po` (`bin/translations`
extracts, updates and compiles them). A browser's language is, in this order: the one this
request was told to follow (`follow`: the application's, on a new device), the one this
browser chose (the switch, kept in the session cookie), the best match of its
Accept-Language, else Dutch. An application keeps its language (`Application.language`): its
mails go out in it, and a device that opens its link or pairs with its journey follows it.
"""

from flask import g, has_request_context, request, session as cookie
from flask_babel import Babel, get_locale, get_translations, gettext, refresh
from jinja2 import pass_eval_context
from markupsafe import Markup

from .domain import sources
from .domain.sources import date_in_words, euro

LANGUAGES = ("nl", "en")
DEFAULT = "nl"
# The switch names each language in that language (WCAG 3.1.2: each with its lang attribute).
NAMES = {"nl": "Nederlands", "en": "English"}
COOKIE_KEY = "taal"
# Staff pages: the municipality's inbox, the operators' dashboard, the developer's outbox.
DUTCH_ONLY = ("gemeente", "operators", "dev")


def bilingual():
    """Whether this request's page is offered in every language (not the staff pages)."""
    return has_request_context() and request.blueprint not in DUTCH_ONLY


def _select():
    if not bilingual():
        return DEFAULT
    chosen = g.get("language") or cookie.get(COOKIE_KEY)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES, DEFAULT)


def translations():
    """The active language's catalogue, for the templates' strings. Flask-Babel finds it
    anew for every string (some five lookups through `g`); this keeps it with the locale it
    was found for, on Flask-Babel's own state of this context, so a change of language
    (`refresh`, `force_locale`: a new locale object) finds it again."""
    state = g.get("_flask_babel")
    found = getattr(state, "ocktoreis_catalogue", None)
    if found is not None and found[0] is getattr(state, "babel_locale", None):
        return found[1]
    catalogue = get_translations()
    state = g.get("_flask_babel")
    if (locale := getattr(state, "babel_locale", None)) is not None:
        state.ocktoreis_catalogue = (locale, catalogue)
    return catalogue


def _format(eval_ctx, translated, variables):
    """What Jinja's newstyle gettext makes of a translation: Markup where the template
    escapes, always a format string (so %% is a percent sign, with or without variables)."""
    if eval_ctx.autoescape:
        translated = Markup(translated)
    return translated % variables


@pass_eval_context
def _template_gettext(eval_ctx, string, /, **variables):
    return _format(eval_ctx, translations().ugettext(string), variables)


@pass_eval_context
def _template_ngettext(eval_ctx, singular, plural, number, /, **variables):
    variables.setdefault("num", number)
    return _format(eval_ctx, translations().ungettext(singular, plural, number), variables)


def current():
    """The active language's code: nl or en."""
    return str(get_locale() or DEFAULT)


def choose(language):
    """This browser's choice, from now on; False for a language we do not have."""
    if language not in LANGUAGES:
        return False
    cookie[COOKIE_KEY] = g.language = language
    return True


def follow(application):
    """A device that opens the application's link, or pairs with its journey, speaks the
    application's language: the phone paired from an English desktop opens in English."""
    if application.language in LANGUAGES and application.language != current():
        choose(application.language)
        refresh()  # Flask-Babel keeps the language it found for this request: ask again


def speak(language):
    """This response in `language`, whatever the browser chose (a page cached per language)."""
    g.language = language
    refresh()


def money(amount):
    """Whole euros for the active language: € 23.456 in Dutch, €23,456 in English."""
    return euro(amount, current())


def long_date(day):
    """A date in words for the active language: 1 maart 2024, March 1, 2024."""
    return date_in_words(day, current())


def describe(key, data):
    """A source's fetched data as (label, value) rows in the active language."""
    return sources.describe(key, data, gettext, current())


def init_app(app):
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    Babel(app, locale_selector=_select)
    # The templates' strings, in newstyle gettext (Flask-Babel loaded Jinja's i18n extension):
    # `{% trans %}` compiles to gettext(string, **variables). Jinja's own newstyle callables
    # (and its `_`) take the whole template context, and a call inside a loop copies that
    # context first (every global, for each string of each card of a list); ours take only
    # the evaluation context, for its autoescape: the same strings, without the copies (a
    # template variable may have any name: the parameters are positional only). pgettext and
    # npgettext stay Flask-Babel's: no template uses them.
    app.jinja_env.newstyle_gettext = True
    app.jinja_env.globals.update(gettext=_template_gettext, _=_template_gettext,
                                 ngettext=_template_ngettext)

    @app.before_request
    def _ask_again():
        """Flask-Babel keeps the language on `g`, which an outer app context (a worker's,
        a test's) shares between requests: each request finds its own."""
        g.pop("language", None)
        refresh()

    @app.after_request
    def _say_the_language(response):
        """A citizen's page is in the language its Accept-Language or cookie chose: caches
        keep one per language (Vary), and the answer names it (Content-Language)."""
        if bilingual() and response.mimetype == "text/html":
            response.vary.update(("Accept-Language", "Cookie"))
            response.content_language.add(current())
        return response

    # {% trans %} blocks span lines in the templates: one space in the catalogue's entries
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.add_template_filter(money, "euro")
    app.add_template_filter(long_date, "datum_lang")
    app.jinja_env.globals.update(language=current, bilingual=bilingual, LANGUAGES=LANGUAGES, LANGUAGE_NAMES=NAMES)
