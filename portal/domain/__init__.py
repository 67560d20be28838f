"""The domain: plain Python and SQLAlchemy. Never imports Flask; only `stripe_gateway`
imports `stripe`. Services take the session, the actor, a clock and collaborators as arguments."""
