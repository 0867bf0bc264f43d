"""Templates that users write, rendered by a restricted engine.

Jinja2's sandbox, narrowed further: only the documented variables (VARIABLES), no attribute or
item access at all (`{{ prenom.upper() }}` is refused), a few filters, and only the `if`
statement. Unknown variables are errors (StrictUndefined), never an empty string. A template
is checked when it is saved (check()), so that it cannot fail at send time.

Django's template engine is not used here: it renders an unknown variable as "" and
HTML-escapes apostrophes, both wrong for an SMS.
"""

from dataclasses import dataclass
from functools import lru_cache

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

# The documented variables, in the order the editor shows them.
VARIABLES = {
    "prenom": gettext_lazy("Recipient's first name"),
    "nom": gettext_lazy("Recipient's last name"),
    "bailleur": gettext_lazy("Landlord's name"),
    "agence": gettext_lazy("Agency"),
    "telephone_agence": gettext_lazy("Agency's phone number"),
    "residence": gettext_lazy("Residence"),
    "batiment": gettext_lazy("Building"),
    "entree": gettext_lazy("Entrance"),
    "adresse": gettext_lazy("Address of the entrance or residence"),
    "logement": gettext_lazy("Unit (door)"),
    "reference_demande": gettext_lazy("Request reference"),
    "date_rdv": gettext_lazy("Appointment date"),
    "heure_rdv": gettext_lazy("Appointment time"),
    "prestataire": gettext_lazy("Provider"),
    "delai": gettext_lazy("Estimated delay or next step"),
    "lien_suivi": gettext_lazy("Personal link to the request's timeline"),
    "lien_desinscription": gettext_lazy("Unsubscribe link (e-mail)"),
}

# Values used to check a template when it is saved.
SAMPLE = {
    "prenom": "Hélène",
    "nom": "Lefèvre",
    "bailleur": "Habitat des Deux Rives",
    "agence": "Agence Nord",
    "telephone_agence": "02 47 00 00 01",
    "residence": "Les Tilleuls",
    "batiment": "Bâtiment A",
    "entree": "Entrée 2",
    "adresse": "12 rue Pasteur, 37000 Tours",
    "logement": "porte 21",
    "reference_demande": "D-2026-00042",
    "date_rdv": "mardi 24 novembre",
    "heure_rdv": "entre 8 h et 10 h",
    "prestataire": "Multitech 37",
    "delai": "Intervention prévue sous 48 heures.",
    "lien_suivi": "https://ronde.example/suivi/Xy3kP0qLm2Rt8vWz/",
    "lien_desinscription": "https://ronde.example/desinscription/abc/",
}

ALLOWED_FILTERS = {"upper", "lower", "capitalize", "title", "trim", "default"}
ALLOWED_NODES = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.Const,
    nodes.If,
    nodes.Filter,
    nodes.Not,
    nodes.And,
    nodes.Or,
    nodes.CondExpr,
    nodes.Compare,
    nodes.Operand,
    nodes.Concat,
)


MAX_SOURCE = 20000


class TemplateError(Exception):
    """The template cannot be used; the message says why, in French."""


class _Restricted(SandboxedEnvironment):
    def is_safe_attribute(self, obj, attr, value):
        return False

    def is_safe_callable(self, obj):
        return False

    def getitem(self, obj, argument):
        return self.undefined(obj=obj, name=str(argument))


def _environment(autoescape: bool) -> _Restricted:
    env = _Restricted(
        undefined=StrictUndefined,
        autoescape=autoescape,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters = {name: env.filters[name] for name in ALLOWED_FILTERS}
    env.tests = {}
    env.globals = {}
    return env


_TEXT = _environment(autoescape=False)
_HTML = _environment(autoescape=True)


@lru_cache(maxsize=256)
def _compiled(source: str, html: bool):
    # Compiling costs far more than rendering: a campaign compiles its texts once.
    return (_HTML if html else _TEXT).from_string(source)


@dataclass(frozen=True)
class Compiled:
    source: str
    html: bool

    def render(self, context: dict) -> str:
        try:
            return _compiled(self.source, self.html).render(**context)
        except (UndefinedError, SecurityError) as exc:
            raise TemplateError(str(exc)) from None


def check(source: str, *, html: bool = False) -> Compiled:
    """Parse and check a template; raise TemplateError with a French reason if it is unusable."""
    if len(source) > MAX_SOURCE:
        raise TemplateError(
            _("The template is too long (at most %(count)d characters).") % {"count": MAX_SOURCE}
        )
    env = _HTML if html else _TEXT
    try:
        tree = env.parse(source)
    except RecursionError:
        raise TemplateError(_("The template is nested too deeply.")) from None
    except TemplateSyntaxError as exc:
        # Jinja's own message is English: the agent gets the line and what to look for.
        raise TemplateError(
            _(
                "Line %(line)d: the template cannot be read; check that every {{ has its }} and "
                "every {%% if %%} its {%% endif %%}."
            )
            % {"line": exc.lineno}
        ) from None
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, ALLOWED_NODES):
            if isinstance(node, nodes.Getattr | nodes.Getitem):
                raise TemplateError(
                    _("Line %(line)d: only plain variables are allowed, like {{ prenom }}.")
                    % {"line": node.lineno}
                )
            raise TemplateError(
                _("Line %(line)d: only variables and {%% if %%} conditions are allowed.")
                % {"line": node.lineno}
            )
        if isinstance(node, nodes.Filter) and node.name not in ALLOWED_FILTERS:
            raise TemplateError(
                _("Unknown filter “%(name)s”. Allowed: %(allowed)s.")
                % {"name": node.name, "allowed": ", ".join(sorted(ALLOWED_FILTERS))}
            )
    unknown = sorted(meta.find_undeclared_variables(tree) - set(VARIABLES))
    if unknown:
        raise TemplateError(
            _("Unknown variable(s): %(unknown)s. Available: %(available)s.")
            % {"unknown": ", ".join(unknown), "available": ", ".join(VARIABLES)}
        )
    compiled = Compiled(source, html)
    try:
        compiled.render(SAMPLE)
    except Exception:  # a filter called wrongly, a comparison of text with a number...
        raise TemplateError(
            _(
                "The template does not render with example values: check the filters and the "
                "conditions."
            )
        ) from None
    return compiled


def render(source: str, context: dict, *, html: bool = False) -> str:
    """Render a checked template; missing variables of the context are rendered as ""."""
    full = dict.fromkeys(VARIABLES, "")
    full.update({k: v for k, v in context.items() if k in VARIABLES})
    return Compiled(source, html).render(full)


TEXT_FIELDS = (
    ("sms_body", False),
    ("email_subject", False),
    ("email_text", False),
    ("email_html", True),
)


def text_errors(texts) -> dict[str, list[str]]:
    """The fields of a message's texts (anything with sms_body, email_subject, email_text and
    email_html) that would not render, and an SMS too long once its variables are filled in."""
    from messaging.sms import MAX_BODY

    errors: dict[str, list[str]] = {}
    for name, is_html in TEXT_FIELDS:
        source = getattr(texts, name)
        if source:
            try:
                check(source, html=is_html)
            except TemplateError as exc:
                errors[name] = [str(exc)]
    if texts.sms_body.strip() and "sms_body" not in errors:
        longest = render(texts.sms_body, SAMPLE)
        if len(longest) > MAX_BODY:
            errors["sms_body"] = [
                _(
                    "At most %(count)d characters once the variables are filled in (here %(length)d)."
                )
                % {"count": MAX_BODY, "length": len(longest)}
            ]
    return errors
