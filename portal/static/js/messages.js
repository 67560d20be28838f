/*
 * The words a page's script shows, in the page's language (no inline scripts: CSP, and the
 * pages carry no script text at all).
 *
 * The template writes them, translated, as JSON in the data-messages attribute of the element
 * the script works on (single-quoted: Jinja's `tojson` escapes what could end it):
 *   <form id="pay-form" data-messages='{"backToPay": "Retour au bouton Payer", ...}'>
 * and the script reads them with PortalMessages.read(form, ENGLISH). A word the page does not
 * carry falls back to the script's English. "{name}" in a text is filled by
 * PortalMessages.fill(text, {name: value}).
 */
(function () {
  "use strict";

  function read(element, fallback) {
    var words = {};
    Object.keys(fallback).forEach(function (key) { words[key] = fallback[key]; });
    if (!element || !element.dataset.messages) { return words; }
    try {
      var given = JSON.parse(element.dataset.messages);
      Object.keys(given).forEach(function (key) {
        if (typeof given[key] === "string" && given[key]) { words[key] = given[key]; }
      });
    } catch (e) { /* unreadable: the English words */ }
    return words;
  }

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
    });
  }

  window.PortalMessages = { read: read, fill: fill };
})();
