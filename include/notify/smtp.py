"""Sending through the ``smtp_default`` Airflow connection (the SMTP provider's hook)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from include.config import SMTP_CONN_ID

log = logging.getLogger(__name__)


def smtp_connection_exists(conn_id: str = SMTP_CONN_ID) -> bool:
    """Whether the Airflow connection ``conn_id`` is defined (no network traffic)."""
    from airflow.providers.common.compat.sdk import AirflowNotFoundException, BaseHook

    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return False
    return True


def sender_address(conn_id: str = SMTP_CONN_ID) -> str | None:
    """The From address: the connection's ``from_email`` extra, else Airflow's ``[email] from_email``."""
    from airflow.providers.common.compat.sdk import BaseHook, conf

    extra = BaseHook.get_connection(conn_id).extra_dejson
    return extra.get("from_email") or conf.get("email", "from_email", fallback=None) or None


def build_message(subject: str, html: str, text: str, sender: str, to: Sequence[str]) -> EmailMessage:
    """A multipart/alternative message: the plain-text part first, the HTML part preferred."""
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def send_html_and_text(subject: str, html: str, text: str, to: Sequence[str], conn_id: str = SMTP_CONN_ID) -> None:
    """Send one email with HTML and plain-text parts through the connection ``conn_id``.

    The provider's hook opens the session (SSL/STARTTLS, login or OAuth2, retries, as the
    connection says); its ``send_email_smtp`` only builds HTML-only messages, so the
    multipart/alternative message is built here and sent on the hook's open session.
    """
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    sender = sender_address(conn_id)
    if not sender:
        raise ValueError(f"set 'from_email' in the extra of the SMTP connection {conn_id!r}")
    msg = build_message(subject, html, text, sender, to)
    with SmtpHook(smtp_conn_id=conn_id) as hook:
        client = getattr(hook, "_smtp_client", None)
        if client is None:
            raise RuntimeError("the SMTP provider's hook did not open a session")
        client.send_message(msg, from_addr=sender, to_addrs=list(to))
