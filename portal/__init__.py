"""Self-service payment and dispute portal for B2B collections."""
