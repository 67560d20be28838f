"""The refusals of plans, saved methods, problems, disputes, the "not the right person" form and
attachments keep their English message and read in French and German, the field they name,
the file kinds, sizes, amounts and dates in the same language."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest

from portal.domain.attachments.inspection import inspect_content
from portal.domain.attachments.policy import JPEG, MB, PNG, UploadLimits, UploadRefused, describe_size, size_text
from portal.domain.core.errors import DomainError, FieldName
from portal.domain.core.locales import N_
from portal.domain.core.money import Money
from portal.domain.customers.policy import ContactRefused, parse_email, parse_named_contact
from portal.domain.disputes.policy import (
    DisputeRefused, InvoiceChoice, LineChoice, LineFacts, clean_description, clean_message, disputed_on_invoice,
)
from portal.domain.followups.policy import YOUR_ANSWER, FollowupRefused, check_paid_on, check_text
from portal.domain.invoicing.policy import PoRefused, parse_po_request
from portal.domain.methods.policy import THE_DEFAULT, MethodRefused, refuse_unverified
from portal.domain.plans.policy import PlanRefused, check_first_date, schedule
from portal.domain.plans.states import Cadence
from tests.support import attachment_files as files


def spaces(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


def refusal(kind, call, *args, **kwargs) -> DomainError:
    with pytest.raises(kind) as caught:
        call(*args, **kwargs)
    return caught.value


def readings(error: DomainError) -> tuple[str, str, str]:
    return error.message, spaces(error.translated("fr")), spaces(error.translated("de"))


# --------------------------------------------------------------------------------------------
# Field names


def test_a_field_name_is_read_in_both_places_of_a_sentence():
    assert readings(refusal(ContactRefused, parse_named_contact, "", "robin@acme.example")) == (
        "Enter the name.", "Saisissez le nom.", "Geben Sie den Namen ein.")
    assert readings(refusal(ContactRefused, parse_named_contact, "R" * 201, "robin@acme.example")) == (
        "The name can be at most 200 characters.", "Le nom ne peut pas dépasser 200 caractères.",
        "Der Name darf höchstens 200 Zeichen lang sein.")
    assert readings(refusal(ContactRefused, parse_email, "robin\r\n")) == (
        "The email address must be one line of plain text.",
        "L'adresse e-mail doit tenir sur une seule ligne de texte simple.",
        "Die E-Mail-Adresse muss eine einzige Zeile einfachen Texts sein.")


def test_an_unmarked_field_name_stays_english():
    staff_only = FieldName("The internal memo", "the internal memo")
    error = refusal(FollowupRefused, check_text, "", staff_only, required=True)
    assert error.message == "Write the internal memo."
    assert error.translated("fr") == "Écrivez the internal memo."  # staff pages read the English message


def test_the_po_forms_issuer_refusal_keeps_its_translation():
    error = refusal(PoRefused, parse_po_request, "", "Robin", "robin")
    assert readings(error) == (
        "Their email address does not look like an email address (name@company.com).",
        "Son adresse e-mail ne ressemble pas à une adresse e-mail (nom@entreprise.com).",
        "Ihre E-Mail-Adresse sieht nicht wie eine E-Mail-Adresse aus (name@firma.de).")
    assert readings(refusal(PoRefused, parse_po_request, "", "", "robin@acme.example"))[0] == \
        "Enter the name of who issues POs."


# --------------------------------------------------------------------------------------------
# Disputes

LINES = [LineFacts(id=1, position=1, description="Widgets", quantity=Decimal(10), unit_price_minor=1_250,
                   amount_minor=12_500),
         LineFacts(id=2, position=2, description="Freight", quantity=Decimal(1), unit_price_minor=4_000,
                   amount_minor=4_000)]


def disputed(*lines: LineChoice) -> DisputeRefused:
    return refusal(DisputeRefused, disputed_on_invoice, InvoiceChoice("inv_1", "lines", lines=lines),
                   number="INV-100", lines=LINES, available=Money(16_500, "USD"))


def test_a_dispute_refusal_names_the_invoice_line_in_the_readers_language():
    assert readings(disputed(LineChoice(1, quantity_text="11"))) == (
        "Invoice INV-100, line 1: the line has a quantity of 10; at most that can be disputed.",
        "Facture INV-100, ligne 1 : la ligne porte sur une quantité de 10 ; vous pouvez contester au plus cette "
        "quantité.",
        "Rechnung INV-100, Position 1: Die Position hat eine Menge von 10; höchstens diese Menge kann beanstandet "
        "werden.")
    assert readings(disputed(LineChoice(2, amount_text="40.01"))) == (
        "Invoice INV-100, line 2: at most the line's $40.00 can be disputed.",
        "Facture INV-100, ligne 2 : vous pouvez contester au plus les 40,00 $US de la ligne.",
        "Rechnung INV-100, Position 2: Höchstens die 40,00 $ der Position können beanstandet werden.")
    assert readings(disputed(LineChoice(2, quantity_text="1.2345"))) == (
        "Invoice INV-100, line 2: a quantity has at most 3 decimals.",
        "Facture INV-100, ligne 2 : une quantité a au plus 3 décimales.",
        "Rechnung INV-100, Position 2: Eine Menge hat höchstens 3 Nachkommastellen.")
    bad_amount = disputed(LineChoice(2, amount_text="abc"))
    assert bad_amount.message == "Invoice INV-100, line 2: Enter the amount as digits, for example 1,234.50."
    assert bad_amount.translated("fr") == \
        "Facture INV-100, ligne 2\u00a0: Saisissez le montant en chiffres, par exemple 1,234.50."
    assert bad_amount.translated("de") == \
        "Rechnung INV-100, Position 2: Geben Sie den Betrag in Ziffern ein, zum Beispiel 1,234.50."


def test_the_chosen_lines_over_what_can_be_disputed_name_both_amounts():
    error = refusal(DisputeRefused, disputed_on_invoice, InvoiceChoice("inv_1", "lines", lines=(LineChoice(1),)),
                    number="INV-100", lines=LINES, available=Money(10_000, "USD"))
    message, french, german = readings(error)
    assert message.startswith("Invoice INV-100: the chosen lines come to $125.00, more than the $100.00 that")
    assert french.startswith("Facture INV-100 : les lignes choisies font 125,00 $US, plus que les 100,00 $US")
    assert german.startswith("Rechnung INV-100: Die gewählten Positionen ergeben 125,00 $, mehr als die 100,00 $")


def test_a_dispute_text_refusal_names_the_description_or_the_message():
    assert readings(refusal(DisputeRefused, clean_description, "too short")) == (
        "Write a description of what is wrong of at least 10 characters.",
        "Écrivez une description du problème d'au moins 10 caractères.",
        "Schreiben Sie eine Beschreibung des Problems mit mindestens 10 Zeichen.")
    assert readings(refusal(DisputeRefused, clean_message, "x" * 4001)) == (
        "A message can be at most 4000 characters.", "Le message ne peut pas dépasser 4000 caractères.",
        "Die Nachricht darf höchstens 4000 Zeichen lang sein.")
    assert readings(refusal(DisputeRefused, clean_message, "Hello\u202e"))[1:] == (
        "Le message contient des caractères non autorisés (caractères de contrôle).",
        "Die Nachricht enthält unzulässige Zeichen (Steuerzeichen).")


# --------------------------------------------------------------------------------------------
# Plans, saved methods, problems


def test_plan_refusals_write_the_amount_and_the_limit_the_readers_way():
    error = refusal(PlanRefused, schedule, Money(100, "USD"), 3, Cadence.MONTHLY, date(2026, 3, 1))
    assert readings(error) == (
        "Each installment must be at least $0.50: choose fewer installments.",
        "Chaque échéance doit être d'au moins 0,50 $US : choisissez moins d'échéances.",
        "Jede Rate muss mindestens 0,50 $ betragen: Wählen Sie weniger Raten.")
    today = date(2026, 3, 1)
    assert readings(refusal(PlanRefused, check_first_date, today + timedelta(days=400), today))[1:] == (
        "La première échéance doit tomber dans les 60 jours.", "Die erste Rate muss innerhalb von 60 Tagen liegen.")


def test_a_bank_account_waiting_for_verification_cannot_become_the_default():
    assert readings(refusal(MethodRefused, refuse_unverified, "failed", THE_DEFAULT)) == (
        "This bank account could not be verified: it cannot be the default. Remove it and add it again, or use a card.",
        "Ce compte bancaire n'a pas pu être vérifié : il ne peut pas devenir le moyen de paiement par défaut. "
        "Supprimez-le et ajoutez-le à nouveau, ou utilisez une carte.",
        "Dieses Bankkonto konnte nicht bestätigt werden: Es kann nicht die Standard-Zahlungsmethode werden. "
        "Entfernen Sie es und fügen Sie es erneut hinzu, oder verwenden Sie eine Karte.")


def test_problem_refusals_in_french_and_german():
    today = date(2026, 3, 1)
    assert readings(refusal(FollowupRefused, check_paid_on, today - timedelta(days=400), today)) == (
        "The payment date must be within the last 365 days.",
        "La date du paiement doit se situer dans les 365 derniers jours.",
        "Das Zahlungsdatum muss innerhalb der letzten 365 Tage liegen.")
    assert readings(refusal(FollowupRefused, check_text, "x" * 2001, YOUR_ANSWER)) == (
        "Your answer can be at most 2000 characters.", "Votre réponse ne peut pas dépasser 2000 caractères.",
        "Ihre Antwort darf höchstens 2000 Zeichen lang sein.")


# --------------------------------------------------------------------------------------------
# Attachments: kinds and sizes


def test_sizes_are_written_with_the_languages_unit():
    assert describe_size(10 * MB) == "10 MB" and describe_size(300 * 1024) == "300 KB"
    assert size_text(10 * MB).render("fr") == "10 Mo" and size_text(10 * MB).render("de") == "10 MB"
    assert size_text(300 * 1024).render("fr") == "300 Ko"
    refused = UploadRefused(N_("“%(name)s” is larger than %(size)s, the most a file may be."), name="a.pdf",
                            size=size_text(25 * MB))
    assert readings(refused) == ("“a.pdf” is larger than 25 MB, the most a file may be.",
                                 "« a.pdf » dépasse 25 Mo, la taille maximale d'un fichier.",
                                 "„a.pdf“ ist größer als 25 MB, die zulässige Höchstgröße einer Datei.")


def inspected(data: bytes, claimed, name: str) -> UploadRefused:
    return refusal(UploadRefused, inspect_content, io.BytesIO(data), len(data), claimed, name, UploadLimits())


def test_a_file_named_as_another_kind_names_both_kinds_in_the_readers_language():
    assert readings(inspected(files.png(), JPEG, "photo.jpg")) == (
        "“photo.jpg” is named as a JPEG image but its content is a PNG image: rename it to end with .png, "
        "or attach the right file.",
        "Le nom de « photo.jpg » annonce une image JPEG, mais son contenu est une image PNG : renommez-le pour "
        "qu'il se termine par .png, ou joignez le bon fichier.",
        "Der Name „photo.jpg“ weist auf ein JPEG-Bild hin, der Inhalt ist aber ein PNG-Bild: Benennen Sie die "
        "Datei so um, dass sie auf .png endet, oder hängen Sie die richtige Datei an.")
    assert "is named as a PNG image but its content is a PDF" in inspected(files.tiny_pdf(), PNG, "scan.png").message


def test_an_unreadable_image_is_named_by_its_kind():
    broken = files.jpeg()[:40]
    error = inspected(broken, JPEG, "photo.jpg")
    assert readings(error) == ("“photo.jpg” is not a valid JPEG image: it could not be read.",
                               "« photo.jpg » n'est pas une image JPEG valide : elle n'a pas pu être lue.",
                               "„photo.jpg“ ist kein gültiges JPEG-Bild: Es konnte nicht gelesen werden.")
