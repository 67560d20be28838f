/*
 * Showing amounts the page holds as integer minor units, without floating point: the digits
 * are placed around the decimal point as text and Intl formats that exact decimal string.
 * Used by the invoice list (running total) and the pay page (total); the server computes
 * every amount that is charged.
 */
(function () {
  "use strict";

  // The page's language (<html lang>) -> the locale the server formats its amounts in.
  var LOCALES = {en: "en-US", fr: "fr-FR", de: "de-DE"};

  function decimalString(minor, exponent) {
    var digits = String(Math.abs(minor));
    while (digits.length <= exponent) { digits = "0" + digits; }
    var text = exponent ? digits.slice(0, -exponent) + "." + digits.slice(-exponent) : digits;
    return (minor < 0 ? "-" : "") + text;
  }

  function format(minor, currency, exponent) {
    var text = decimalString(minor, exponent);
    try {
      return new Intl.NumberFormat(LOCALES[document.documentElement.lang] || "en-US", {
        style: "currency", currency: currency,
        minimumFractionDigits: exponent, maximumFractionDigits: exponent
      }).format(text);
    } catch (e) {
      return currency + " " + text;
    }
  }

  window.PortalMoney = { format: format, decimalString: decimalString };
})();
