"""The local demo: the portal with an offline Stripe, a mail catcher and the outbox sender.

`python -m devserver` (what `./scripts/demo.sh` runs) starts everything on 127.0.0.1.
Nothing here is used in production; the mail catcher is also the tests' SMTP sink.
"""
