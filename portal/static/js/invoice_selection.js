// Invoice list: "select all" and a running total of the invoices ticked for payment.
// The pay page checks everything again on the server; this only helps the clerk choose.
// "Select all" ticks the payable invoices of one currency only (one payment is in one
// currency): the currency already ticked, else the first payable row's.
// Its words come from the page, in its language (the form's data-messages, read with PortalMessages
// from messages.js); ENGLISH is only for a page that lacks one.
(function () {
  "use strict";

  var ENGLISH = {
    selectedOne: "{count} invoice selected.",
    selectedMany: "{count} invoices selected.",
    selectedTotalOne: "{count} invoice selected: {amount} to pay.",
    selectedTotalMany: "{count} invoices selected: {amount} to pay.",
    oneCurrency: "One payment is in one currency: you selected {currencies}. Untick the invoices of the other " +
      "currency, or filter the list by currency.",
    selectAllLabel: "Select every payable {currency} invoice on this page"
  };

  function plural(count, one, many) { return fill(count === 1 ? one : many, {count: count}); }

  // "USD and EUR", "USD et EUR", "USD und EUR".
  function listed(items) {
    try {
      return new Intl.ListFormat(document.documentElement.lang || "en", {type: "conjunction"}).format(items);
    } catch (e) {
      return items.join(", ");
    }
  }

  var form = document.getElementById("pay-form");
  var buttons = form ? Array.prototype.slice.call(form.querySelectorAll(".pay-selected")) : [];
  if (!form || buttons.length === 0) { return; }  // nothing on this page can be paid
  var words = window.PortalMessages.read(form, ENGLISH);
  var fill = window.PortalMessages.fill;
  var boxes = Array.prototype.slice.call(form.querySelectorAll("input[type=checkbox][name=invoice]"));
  var selectAll = document.getElementById("select-all");
  var summary = document.getElementById("selection-summary");
  var error = document.getElementById("selection-error");
  var idleText = summary.textContent;

  function chosenBoxes() { return boxes.filter(function (box) { return box.checked; }); }

  // The currency "select all" works on: the one ticked already, else the first row's.
  function targetCurrency() {
    var chosen = chosenBoxes();
    return (chosen.length ? chosen[0] : boxes[0]).dataset.currency;
  }

  function sameCurrency(currency) {
    return boxes.filter(function (box) { return box.dataset.currency === currency; });
  }

  function setDisabled(disabled) {
    buttons.forEach(function (button) { button.disabled = disabled; });
  }

  function update() {
    var chosen = chosenBoxes();
    var currencies = [];
    var totalMinor = 0;
    chosen.forEach(function (box) {
      if (currencies.indexOf(box.dataset.currency) === -1) { currencies.push(box.dataset.currency); }
      totalMinor += parseInt(box.dataset.payableMinor, 10);
    });

    error.classList.add("hidden");
    error.textContent = "";
    if (chosen.length === 0) {
      summary.textContent = idleText;
      setDisabled(true);
    } else if (currencies.length > 1) {
      summary.textContent = plural(chosen.length, words.selectedOne, words.selectedMany);
      error.textContent = fill(words.oneCurrency, {currencies: listed(currencies)});
      error.classList.remove("hidden");
      setDisabled(true);
    } else {
      var exponent = parseInt(chosen[0].dataset.exponent, 10);
      summary.textContent = fill(plural(chosen.length, words.selectedTotalOne, words.selectedTotalMany),
                                 {amount: window.PortalMoney.format(totalMinor, currencies[0], exponent)});
      setDisabled(false);
    }
    if (selectAll && boxes.length) {
      var currency = targetCurrency();
      var group = sameCurrency(currency);
      var ticked = group.filter(function (box) { return box.checked; }).length;
      selectAll.checked = ticked === group.length && currencies.length <= 1;
      selectAll.indeterminate = ticked > 0 && !selectAll.checked;
      selectAll.setAttribute("aria-label", fill(words.selectAllLabel, {currency: currency}));
    }
  }

  if (selectAll) {
    selectAll.classList.remove("hidden");
    selectAll.addEventListener("change", function () {
      var currency = targetCurrency();
      boxes.forEach(function (box) {
        box.checked = selectAll.checked && box.dataset.currency === currency;
      });
      update();
    });
  }
  boxes.forEach(function (box) { box.addEventListener("change", update); });
  // Tabbing: the whole row of the focused control in view, above the pay bar (the page's
  // scroll-padding-bottom keeps the bar's height free), not only the control itself. Not for
  // a click: focus comes with the press, and scrolling then would move the row from under
  // the pointer before the release, so the click would tick nothing.
  function focusedByKeyboard(element) {
    try { return element.matches(":focus-visible"); } catch (e) { return false; }
  }
  form.addEventListener("focusin", function (event) {
    var row = event.target.closest("tbody tr");
    if (row && focusedByKeyboard(event.target)) { row.scrollIntoView({block: "nearest"}); }
  });
  form.addEventListener("submit", function (event) {
    update();
    if (buttons[0].disabled) { event.preventDefault(); }
  });
  update();
})();
