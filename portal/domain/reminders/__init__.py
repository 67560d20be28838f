"""Reminders: the admin-edited reminder policy and `send-reminders`, one email per customer per step."""
