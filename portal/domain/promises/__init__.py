"""Promises to pay: a customer names invoices, a date and a way of paying; reminders pause
until the date plus a grace period; the promise is then kept or broken."""
