"""Signals other apps may listen to (the requests app, when it lands, will attach inbound SMS
to open requests; nothing listens yet)."""

from django.dispatch import Signal

# Sent once per inbound SMS stored; kwargs: message (InboundMessage).
inbound_received = Signal()
