"""Result mail: address checks and sending through the configured SMTP server (smtplib).

SMTP settings come from the site config's `smtp` section; the password may
instead come from the environment (STYLEJAX_SMTP_PASSWORD), so it need not be
written into a config file. Without `smtp.host` no mail is sent and the job
page is the only delivery.
"""

import email.utils
import os
import re
import smtplib
import ssl
from email.message import EmailMessage

from stylejax.errors import UserError

# A practical subset of RFC 5321 addresses: no quoted local parts, no comments, no spaces or line breaks
# (so nothing can be injected into a header), a domain of dot-separated labels.
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                      r"@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")
SECURITIES = ("starttls", "ssl", "none")


def check_address(address):
  """The address stripped of surrounding spaces ('' if none was given), or a UserError."""
  address = address.strip()
  if address and (len(address) > 254 or not _ADDRESS.fullmatch(address)):
    raise UserError("that e-mail address is not valid (expected name@example.org, no spaces or line breaks)")
  return address


def enabled(smtp):
  """Whether the config names an SMTP server."""
  return bool(smtp.host)


def message(smtp, to, subject, text, attachment=None, filename="result.png"):
  """An EmailMessage from smtp.sender to `to` with an optional PNG attachment (bytes); dated, with a unique
  Message-ID in the sender's domain (mail without them is often held as spam)."""
  mail = EmailMessage()
  mail["From"], mail["To"], mail["Subject"] = smtp.sender, check_address(to), subject
  mail["Date"] = email.utils.formatdate(localtime=True)
  mail["Message-ID"] = email.utils.make_msgid(domain=smtp.sender.rpartition("@")[2] or "localhost")
  mail.set_content(text)
  if attachment is not None:
    mail.add_attachment(attachment, maintype="image", subtype="png", filename=filename)
  return mail


def check_security(smtp):
  """Refuses an smtp.security other than starttls, ssl or none."""
  if smtp.security not in SECURITIES:
    raise UserError(f"unknown smtp.security {smtp.security!r}; choose one of {', '.join(SECURITIES)}")


def send(smtp, mail):
  """Delivers `mail` through the configured server (smtp.security: starttls, ssl or none)."""
  check_security(smtp)
  context = ssl.create_default_context()
  if smtp.security == "ssl":
    server = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=30, context=context)
  else:
    server = smtplib.SMTP(smtp.host, smtp.port, timeout=30)
  with server:
    if smtp.security == "starttls":
      server.starttls(context=context)
    password = os.environ.get("STYLEJAX_SMTP_PASSWORD") or smtp.password
    if smtp.user:
      server.login(smtp.user, password)
    server.send_message(mail)
