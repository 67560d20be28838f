// Invoice list: "select all" and a running total of the invoices ticked for payment.
// The pay page checks everything again on the server; this only helps the clerk choose.
(function () {
  "use strict";

  var form = document.getElementById("pay-form");
  var button = document.getElementById("pay-selected");
  if (!form || !button) { return; }  // nothing on this page can be paid
  var boxes = Array.prototype.slice.call(form.querySelectorAll("input[type=checkbox][name=invoice]"));
  var selectAll = document.getElementById("select-all");
  var summary = document.getElementById("selection-summary");
  var error = document.getElementById("selection-error");
  var idleText = summary.textContent;

  function update() {
    var chosen = boxes.filter(function (box) { return box.checked; });
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
      button.disabled = true;
    } else if (currencies.length > 1) {
      summary.textContent = chosen.length + " invoices selected.";
      error.textContent = "One payment is in one currency: you selected " + currencies.join(" and ") +
        ". Untick the invoices of the other currency, or filter the list by currency.";
      error.classList.remove("hidden");
      button.disabled = true;
    } else {
      var exponent = parseInt(chosen[0].dataset.exponent, 10);
      summary.textContent = chosen.length + (chosen.length === 1 ? " invoice" : " invoices") +
        " selected: " + window.PortalMoney.format(totalMinor, currencies[0], exponent) + " to pay.";
      button.disabled = false;
    }
    if (selectAll) {
      selectAll.checked = boxes.length > 0 && chosen.length === boxes.length;
      selectAll.indeterminate = chosen.length > 0 && chosen.length < boxes.length;
    }
  }

  if (selectAll) {
    if (boxes.length === 0) {
      selectAll.disabled = true;
    }
    selectAll.classList.remove("hidden");
    selectAll.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = selectAll.checked; });
      update();
    });
  }
  boxes.forEach(function (box) { box.addEventListener("change", update); });
  form.addEventListener("submit", function (event) {
    update();
    if (button.disabled) { event.preventDefault(); }
  });
  update();
})();
