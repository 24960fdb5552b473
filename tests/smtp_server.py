"""The SMTP server the integration tests send to: aiosmtpd (not ours),
storing every accepted message in a Maildir, optionally with STARTTLS or
implicit TLS and required AUTH. Runs until killed.

With --rules FILE, each RCPT is answered as FILE (JSON, read again at every
RCPT so a test can change it between runs) says for that address, or for
"*": a reply such as "550 5.1.1 No such user", or "stall" (never answer), or
"drop" (close the connection). Addresses without a rule are accepted.
The key "MAIL FROM" answers the sender command instead (a relay that refuses
our sender), e.g. "550 5.7.1 Sender address rejected".

usage: smtp_server.py PORT MAILDIR [--tls starttls|tls --cert PEM --key PEM] [--user U --password P]
                      [--rules FILE]
"""
import argparse
import asyncio
import json
import signal
import ssl

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult


class RuledMailbox(Mailbox):
    """A Maildir that answers RCPT as the rules file says."""

    def __init__(self, maildir, rules):
        super().__init__(maildir)
        self.rules = rules

    def rule_for(self, address):
        try:
            with open(self.rules) as f:
                rules = json.load(f)
        except FileNotFoundError:
            return None
        if address == "MAIL FROM":
            return rules.get(address)
        return rules.get(address.lower(), rules.get("*"))

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        rule = self.rule_for("MAIL FROM")
        if rule is not None and not rule.startswith("250"):
            return rule
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        rule = self.rule_for(address)
        if rule == "stall":
            await asyncio.sleep(3600)
        if rule == "drop":
            server.transport.close()
            return "421 4.3.0 Closing"
        if rule is None or rule.startswith("250"):
            envelope.rcpt_tos.append(address)
            return "250 OK"
        return rule


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("maildir")
    p.add_argument("--tls", choices=["starttls", "tls"])
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--rules")
    args = p.parse_args()

    kwargs = {}
    if args.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
        if args.tls == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        else:
            kwargs.update(ssl_context=context)
    if args.user:
        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = auth_data.login == args.user.encode() and auth_data.password == args.password.encode()
            # handled=False: aiosmtpd itself answers 535 to a failed login.
            return AuthResult(success=ok, handled=False)

        kwargs.update(authenticator=authenticate, auth_required=True, auth_require_tls=bool(args.tls))

    handler = RuledMailbox(args.maildir, args.rules) if args.rules else Mailbox(args.maildir)
    controller = Controller(handler, hostname="127.0.0.1", port=args.port, **kwargs)
    controller.start()
    signal.pause()


if __name__ == "__main__":
    main()
