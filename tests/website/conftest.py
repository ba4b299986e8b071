"""Fixtures of the website tests: an SMTP server on loopback (aiosmtpd) that keeps what it receives."""

import email
import email.policy

import pytest
from aiosmtpd.controller import Controller

from tests.helpers import free_port


class Inbox:
  """aiosmtpd handler: every message received, as aiosmtpd envelopes."""

  def __init__(self):
    self.messages, self.port = [], None

  def mails(self):
    """The messages received, parsed."""
    return [email.message_from_bytes(envelope.content, policy=email.policy.default) for envelope in self.messages]

  def attachment(self, mail, filename="result.png"):
    (part,) = [part for part in mail.walk() if part.get_filename() == filename]
    return part.get_payload(decode=True)

  async def handle_DATA(self, server, session, envelope):
    self.messages.append(envelope)
    return "250 OK"


@pytest.fixture
def inbox():
  handler = Inbox()
  controller = Controller(handler, hostname="127.0.0.1", port=free_port())
  controller.start()
  handler.port = controller.port
  yield handler
  controller.stop()
