"""Outgoing webhooks: the ERP's cash rows pushed to its endpoints as they are written, signed,
delivered after commit from an outbox of their own (docs/erp-webhooks.md)."""
