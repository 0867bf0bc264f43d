"""Provider error codes in words an advisor reads (French through gettext)."""

from django.utils.translation import gettext as _

REASONS = {
    "21211": lambda: _("Invalid number."),
    "21214": lambda: _("This number cannot be reached."),
    "21610": lambda: _("The recipient replied STOP to the operator."),
    "21612": lambda: _("The operator cannot route to this number."),
    "21614": lambda: _("This number is not a mobile."),
    "21617": lambda: _("The text is too long."),
    "30003": lambda: _("Phone switched off or out of reach."),
    "30004": lambda: _("The recipient blocks messages."),
    "30005": lambda: _("Unknown number."),
    "30006": lambda: _("A landline, or an operator that cannot be reached."),
    "30007": lambda: _("Filtered by the operator as unwanted."),
    "30008": lambda: _("Delivery failed at the operator."),
    "20003": lambda: _("The operator refused our credentials: check the configuration."),
    "20404": lambda: _(
        "The operator does not know our account or sender: check the configuration."
    ),
    "21212": lambda: _("Our sender is refused by the operator: check the configuration."),
    "21408": lambda: _("Sending to this country is not enabled at the operator."),
    "21606": lambda: _("Our sender cannot send text messages: check the configuration."),
    "20429": lambda: _("The operator asked us to slow down."),
    "20500": lambda: _("The operator had an internal error."),
    "connect": lambda: _("The server could not be reached."),
    "timeout": lambda: _("The operator did not answer in time."),
    "disconnected": lambda: _("The connection to the mail server dropped."),
    "smtp": lambda: _("The mail server refused the message."),
    "error": lambda: _("Unexpected error while sending."),
}


def reason(code: str, channel: str = "") -> str:
    if code in REASONS:
        return REASONS[code]()
    if code.isdigit() and channel == "email":
        number = int(code)
        if 500 <= number < 600:
            return _("The mail server refused this address (%(code)s).") % {"code": code}
        if 400 <= number < 500:
            return _("The mail server postponed this message (%(code)s).") % {"code": code}
    return _("Operator error %(code)s.") % {"code": code}
