"""Flask glue: the request's database session, the signed-in customer, errors, headers."""
