"""The SMTP server the integration tests send to: aiosmtpd (not ours),
storing every accepted message in a Maildir, optionally with STARTTLS or
implicit TLS and required AUTH. Runs until killed.

usage: smtp_server.py PORT MAILDIR [--tls starttls|tls --cert PEM --key PEM] [--user U --password P]
"""
import argparse
import signal
import ssl

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("maildir")
    p.add_argument("--tls", choices=["starttls", "tls"])
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--user")
    p.add_argument("--password")
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

    controller = Controller(Mailbox(args.maildir), hostname="127.0.0.1", port=args.port, **kwargs)
    controller.start()
    signal.pause()


if __name__ == "__main__":
    main()
