"""Signals other apps listen to (the requests app attaches inbound SMS to open requests)."""

from django.dispatch import Signal

# Sent once per inbound SMS stored; kwargs: message (InboundMessage).
inbound_received = Signal()
