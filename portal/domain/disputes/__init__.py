"""Disputes: a customer says what is wrong with one or more invoices; the disputed amount is
held out of what is payable until staff accept (credit note), reject or re-bill it."""
