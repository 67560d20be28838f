"""The domain: plain Python and SQLAlchemy, one package per area of the product.

Never imports Flask; only `gateway.stripe_adapter` imports `stripe`. See docs/architecture.md.
"""
