"""Follow-ups: why an invoice is not paid, and who does something about it.

A follow-up is one reason an unpaid invoice needs a person. The clerk reports most of them
from the portal or a reminder email ("There's a problem": we already paid it, we need a PO,
it is waiting for approval on our side, I'm not the right person); the system raises the rest
(a bank debit failed or came back, a promise was broken, a plan defaulted, a reminder
bounced). Each one lands in the queue of the team that handles its kind (cash application,
billing, collections) with a due time counted in that team's business hours, and is resolved
at its source: a payment matched through the ledger, an invoice re-issued with its PO, a
contact added, a promise made.
"""
