"""Verifies a message's DKIM signature offline with dkimpy (not ours), the
public key given instead of looked up in DNS.

usage: dkim_verify.py MESSAGE_FILE PUBLIC_KEY_BASE64
Prints the signed header list; exits 0 when the signature verifies, 1 when not.
"""
import sys

import dkim


def main():
    path, public_key = sys.argv[1], sys.argv[2]
    with open(path, "rb") as f:
        raw = f.read()
    # Maildir stores LF line ends; on the wire they were CRLF.
    message = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    record = b"v=DKIM1; k=rsa; p=" + public_key.encode()
    verifier = dkim.DKIM(message)
    ok = verifier.verify(dnsfunc=lambda name, timeout=5: record)
    print("signed headers:", b" ".join(verifier.include_headers).decode())
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
