"""A PO number given after issue shows in the invoice's history as a sentence in the reader's
language, its date written that language's way (`with_reissues`)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from portal.domain.account.queries import with_reissues
from portal.domain.core.locales import format_day

AT = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)


def _reissue(**values):
    fields = {"created_at": AT, "invoice_id": 7, "replacement_invoice_id": None, "po_after": "PO-4471",
              "due_before": date(2026, 12, 1), "due_after": date(2026, 12, 1), "number": None}
    return SimpleNamespace(**{**fields, **values})


def _label(reissue, invoice_id: int = 7):
    [row] = with_reissues([], [reissue], invoice_id, "USD")
    return row.kind, row.label


@pytest.mark.parametrize(("reissue", "invoice_id", "kind", "words"), [
    (_reissue(), 7, "po_updated", {
        "en": "PO number set to PO-4471", "fr": "N° de bon de commande indiqué\u00a0: PO-4471",
        "de": "Bestellnummer angegeben: PO-4471"}),
    (_reissue(replacement_invoice_id=8, number="INV-7-R1"), 7, "reissued", {
        "en": "Re-issued as INV-7-R1 with PO PO-4471",
        "fr": "Réémise sous le n° INV-7-R1 avec le bon de commande PO-4471",
        "de": "Neu ausgestellt als INV-7-R1 mit Bestellnummer PO-4471"}),
    (_reissue(replacement_invoice_id=8, number="INV-7"), 8, "replaces", {
        "en": "Replaces invoice INV-7, with PO PO-4471",
        "fr": "Remplace la facture INV-7, avec le bon de commande PO-4471",
        "de": "Ersetzt Rechnung INV-7, mit Bestellnummer PO-4471"}),
])
def test_the_history_line_of_a_po_given_after_issue_is_in_the_readers_language(reissue, invoice_id, kind, words):
    found_kind, label = _label(reissue, invoice_id)
    assert found_kind == kind
    assert {language: label.render(language) for language in words} == words
    assert str(label) == words["en"]


@pytest.mark.parametrize("language", ["en", "fr", "de"])
def test_a_new_due_date_is_written_the_readers_way(language):
    _kind, label = _label(_reissue(due_after=date(2027, 1, 15)))
    assert label.render(language).endswith(format_day(date(2027, 1, 15), language))
    assert "PO-4471" in label.render(language)
