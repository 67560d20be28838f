/*
 * The card payment page and the payment status page (no inline scripts: CSP).
 *
 * Pay page (form#pay-form): Stripe.js collects the payment details and makes a token -> POST the
 * form with the token to our server, which computes the amounts, creates and confirms the
 * PaymentIntent -> if it answers with a client secret, 3-D Secure runs in the page -> then the
 * payment's status page. How Stripe.js is driven depends on the server's STRIPE_DIALECT (the
 * form's data-stripe-dialect), and lives only in DIALECTS below:
 * - "real": the Payment Element in deferred-intent mode (elements({mode: "payment", amount,
 *   currency})), elements.submit(), stripe.createConfirmationToken({elements}) -> posted as
 *   `confirmation_token`; 3-D Secure through stripe.handleNextAction({clientSecret}).
 * - "localstripe": its fake Stripe.js has no Payment Element: the card element,
 *   stripe.createToken(card) -> posted as `card_token`; stripe.confirmCardPayment(secret).
 *
 * Errors: a summary at the top of the form (#error-summary) takes the focus and links to the
 * field at fault or back to Pay; each field's own error is text under it (aria-describedby).
 * While paying the button reads "Paying…" with aria-busy. Every word shown comes from the page, in
 * its language (the form's data-messages, read with PortalMessages from messages.js; the button's
 * labels are its data-* attributes); ENGLISH below is only for a page that lacks one.
 *
 * Status page (#payment-status[data-status-url]): polls a small JSON endpoint and, when the
 * status changes, swaps the page's live region (#payment-live) with its new version and
 * updates the title (the webhook settles the payment; this page only displays).
 */
(function () {
  "use strict";

  var RETRIES_WHEN_UNAVAILABLE = 3;
  var RETRY_DELAY_MS = 1500;

  var ENGLISH = {
    amountExample: "Enter an amount, for example {example}",
    amountAboveZero: "Enter an amount above zero",
    amountAtMost: "At most {amount} is due",
    reasonRequired: "Reason required",
    rowAmountExample: "{invoice}: Enter an amount, for example {example}",
    rowAmountAboveZero: "{invoice}: Enter an amount above zero",
    rowAmountAtMost: "{invoice}: At most {amount} is due",
    rowReasonRequired: "{invoice}: Reason required (you are paying less than the balance due)",
    checkOneField: "Check this field:",
    checkFields: "Check these fields:",
    backToPay: "Back to Pay",
    acceptMandate: "Accept the debit authorization to pay from a bank account.",
    acceptMandateLink: "Accept the debit authorization",
    enterCard: "Enter your card details.",
    checkCard: "Check the card details",
    useAnotherCard: "Use another card",
    authenticationFailed: "Card authentication failed.",
    authenticationFailedNotCharged: "Card authentication failed. Nothing was charged.",
    notMade: "The payment was not made. Check the amounts and the card, then pay again.",
    notMadeEnterCard: "The payment was not made. Enter your card details and pay again.",
    connectionFailed: "The connection failed. Check your payments before paying again: the payment may have been made."
  };
  var WORDS = ENGLISH;

  function fill(text, values) { return window.PortalMessages.fill(text, values); }

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  // --- pay page ---------------------------------------------------------------------------

  function parseMinor(text, exponent) {
    // Display only (the server parses exactly): "1,234.5" -> 123450 for exponent 2.
    var cleaned = (text || "").replace(/[,_\s]/g, "");
    if (!/^\d+(\.\d*)?$/.test(cleaned)) { return null; }
    var parts = cleaned.split(".");
    var fraction = parts[1] || "";
    if (fraction.length > exponent) { return null; }
    while (fraction.length < exponent) { fraction += "0"; }
    return parseInt(parts[0] + fraction, 10);
  }

  // The two ways of driving Stripe.js. Each: mount(form) once; token(amountMinor) -> {field, id}
  // or {error}; authenticate(clientSecret) -> the Stripe.js result; update(amountMinor).
  var DIALECTS = {
    real: function (stripe, form) {
      var elements = stripe.elements({
        mode: "payment", amount: parseInt(form.dataset.totalMinor, 10),
        currency: form.dataset.currency.toLowerCase()
      });
      var element = elements.create("payment");
      element.mount("#card-element");
      // A US bank account (USD, where Stripe offers it): its debit authorization is shown and
      // must be accepted; the chosen type is posted as `method`.
      var methodField = document.getElementById("pay-method");
      var mandate = document.getElementById("bank-mandate");
      if (methodField && mandate) {
        element.on("change", function (event) {
          var type = event && event.value && event.value.type;
          methodField.value = type === "us_bank_account" ? "us_bank_account" : "card";
          mandate.classList.toggle("hidden", methodField.value !== "us_bank_account");
        });
      }
      return {
        update: function (amount) { if (amount > 0) { elements.update({amount: amount}); } },
        token: async function () {
          var submitted = await elements.submit();
          if (submitted.error) { return {error: submitted.error}; }
          var result = await stripe.createConfirmationToken({elements: elements});
          if (result.error) { return {error: result.error}; }
          return {field: "confirmation_token", id: result.confirmationToken.id};
        },
        authenticate: function (clientSecret) { return stripe.handleNextAction({clientSecret: clientSecret}); }
      };
    },
    localstripe: function (stripe) {
      var card = stripe.elements().create("card");
      card.mount("#card-element");
      return {
        update: function () {},
        token: async function () {
          var result = await stripe.createToken(card);
          if (result.error) { return {error: result.error}; }
          return {field: "card_token", id: result.token.id};
        },
        authenticate: function (clientSecret) { return stripe.confirmCardPayment(clientSecret); }
      };
    }
  };

  // Real Stripe.js answers a failed 3-D Secure step with {error}; localstripe's fake answers
  // {paymentIntent} whose status went back to requires_payment_method. Both mean "not paid".
  function authenticationFailed(result) {
    if (result.error) { return result.error.message || WORDS.authenticationFailed; }
    var status = result.paymentIntent && result.paymentIntent.status;
    if (status === "succeeded" || status === "processing" || status === "requires_capture") { return null; }
    return WORDS.authenticationFailedNotCharged;
  }

  // A failure of the network itself (fetch rejects): the only case that says "connection".
  function NetworkError() { this.network = true; }

  function setUpPayForm(form) {
    WORDS = window.PortalMessages.read(form, ENGLISH);
    var stripe = window.Stripe(form.dataset.publishableKey);
    var dialect = (DIALECTS[form.dataset.stripeDialect] || DIALECTS.real)(stripe, form);

    var button = document.getElementById("pay-button");
    var summaryBox = document.getElementById("error-summary");
    var errorBox = document.getElementById("pay-error");
    var errorList = document.getElementById("error-list");
    var cardError = document.getElementById("card-error");
    var totalBox = document.getElementById("pay-total");
    var exponent = parseInt(form.dataset.exponent, 10);
    var currency = form.dataset.currency;
    var csrfToken = form.querySelector("input[name=csrf_token]").value;
    var rows = Array.prototype.slice.call(form.querySelectorAll(".pay-row"));
    var buttonText = button.textContent;

    function fieldError(input, message) {
      var box = document.getElementById(input.id + "-error");
      if (message) {
        input.setAttribute("aria-invalid", "true");
        box.textContent = message;
        box.classList.remove("hidden");
      } else {
        input.removeAttribute("aria-invalid");
        box.textContent = "";
        box.classList.add("hidden");
      }
    }

    // The summary at the top of the form takes the focus; each problem links to its field
    // (`target` an element id), or back to the Pay button.
    function showErrors(message, problems) {
      errorBox.textContent = message || "";
      errorBox.classList.toggle("hidden", !message);
      errorList.textContent = "";
      problems.forEach(function (problem) {
        var item = document.createElement("li");
        var link = document.createElement("a");
        link.href = "#" + problem.target;
        link.textContent = problem.text;
        link.addEventListener("click", function (event) {
          event.preventDefault();
          var target = document.getElementById(problem.target);
          // The field itself: Stripe's iframe or an input, not a control beside it (the
          // Payment Element's method tabs are buttons), else the element's own box.
          var focusable = target && (target.matches("input, button") ? target
            : target.querySelector("iframe") || target.querySelector("input"));
          (focusable || target).focus();
        });
        item.appendChild(link);
        errorList.appendChild(item);
      });
      summaryBox.classList.remove("hidden");
      summaryBox.focus();
    }

    function clearErrors() {
      summaryBox.classList.add("hidden");
      errorBox.textContent = "";
      errorList.textContent = "";
      cardError.textContent = "";
      cardError.classList.add("hidden");
    }

    // Each row's amount and reason checked as the server will (the server decides).
    function checkRows(showFieldErrors) {
      var total = 0;
      var problems = [];
      rows.forEach(function (row) {
        var input = row.querySelector(".amount-input");
        var reason = row.querySelector(".reason-input");
        var number = row.dataset.number;
        var minor = parseMinor(input.value, exponent);
        var payable = parseInt(row.dataset.payableMinor, 10);
        // The example as the field reads it ("1,234.50"), not as money is shown ("1 234,50 $US").
        var values = {invoice: number, example: row.dataset.payableField || row.dataset.payableText,
                      amount: row.dataset.payableText};
        var amountProblem = "";
        var amountSummary = "";
        if (minor === null) {
          amountProblem = fill(WORDS.amountExample, values);
          amountSummary = fill(WORDS.rowAmountExample, values);
        } else if (minor <= 0) {
          amountProblem = WORDS.amountAboveZero;
          amountSummary = fill(WORDS.rowAmountAboveZero, values);
        } else if (minor > payable) {
          amountProblem = fill(WORDS.amountAtMost, values);
          amountSummary = fill(WORDS.rowAmountAtMost, values);
        } else {
          total += minor;
        }
        var reasonProblem = (!amountProblem && minor < payable && !reason.value.trim()) ? WORDS.reasonRequired : "";
        if (showFieldErrors) {
          fieldError(input, amountProblem);
          fieldError(reason, reasonProblem);
        } else if (!amountProblem) {
          fieldError(input, "");
        }
        if (amountProblem) { problems.push({target: input.id, text: amountSummary}); }
        if (reasonProblem) { problems.push({target: reason.id, text: fill(WORDS.rowReasonRequired, {invoice: number})}); }
        reason.required = minor !== null && minor < payable;
      });
      return {total: total, problems: problems};
    }

    function refreshTotal() {
      var checked = checkRows(false);
      var valid = !checked.problems.some(function (p) { return /^amount-/.test(p.target); });
      var text = valid ? window.PortalMoney.format(checked.total, currency, exponent) : "–";
      totalBox.textContent = text;
      // The button's words come from the page, in its language ("Payer {amount}").
      buttonText = valid ? (button.dataset.payAmountLabel || "Pay {amount}").replace("{amount}", text)
        : (button.dataset.payLabel || "Pay");
      if (!button.disabled) { button.textContent = buttonText; }
      if (valid && checked.total > 0) { dialect.update(checked.total); }
    }

    form.addEventListener("input", function (event) {
      if (event.target.classList.contains("amount-input")) { refreshTotal(); }
      if (event.target.getAttribute("aria-invalid") === "true" && event.target.value.trim()) {
        if (event.target.classList.contains("reason-input")) { fieldError(event.target, ""); }
      }
    });

    async function send(url, options) {
      try {
        return await fetch(url, options);
      } catch (e) {
        throw new NetworkError();
      }
    }

    async function postForm(data) {
      for (var attempt = 0; ; attempt++) {
        var response = await send(form.action, {
          method: "POST", body: data, credentials: "same-origin",
          headers: {"Accept": "application/json"}
        });
        var body = await response.json().catch(function () { return {}; });
        // Nothing known yet (timeout at Stripe): the same form and token again is safe, the
        // server reuses the attempt and its idempotency key.
        if (response.status === 503 && body.retry && attempt < RETRIES_WHEN_UNAVAILABLE) {
          await sleep(RETRY_DELAY_MS * (attempt + 1));
          continue;
        }
        return {ok: response.ok, body: body};
      }
    }

    async function cancelAttempt(url) {
      await fetch(url, {
        method: "POST", credentials: "same-origin",
        headers: {"Accept": "application/json", "X-CSRFToken": csrfToken}
      }).catch(function () { return null; });
    }

    var BACK_TO_PAY = {target: "pay-button", text: WORDS.backToPay};

    // -> null when the browser moves on to the status page, else {message, problems}.
    async function pay() {
      var methodField = document.getElementById("pay-method");
      var accepted = document.getElementById("mandate-accepted");
      if (methodField && methodField.value === "us_bank_account" && accepted && !accepted.checked) {
        return {message: WORDS.acceptMandate,
                problems: [{target: "mandate-accepted", text: WORDS.acceptMandateLink}, BACK_TO_PAY]};
      }
      var made = await dialect.token();
      if (made.error) {
        var text = made.error.message || WORDS.enterCard;
        cardError.textContent = text;
        cardError.classList.remove("hidden");
        return {message: text, problems: [{target: "card-element", text: WORDS.checkCard}, BACK_TO_PAY]};
      }
      var data = new FormData(form);
      data.set(made.field, made.id);
      var answer = await postForm(data);
      if (!answer.ok) {
        return {message: answer.body.error || WORDS.notMade,
                problems: [BACK_TO_PAY]};
      }
      if (answer.body.client_secret) {
        var result = await dialect.authenticate(answer.body.client_secret);
        var failure = authenticationFailed(result);
        if (failure) {
          await cancelAttempt(answer.body.cancel_url);
          return {message: failure, problems: [{target: "card-element", text: WORDS.useAnotherCard}, BACK_TO_PAY]};
        }
        window.location.assign(answer.body.payment_url + "?authenticated=1");
        return null;
      }
      window.location.assign(answer.body.payment_url);
      return null;
    }

    function busy(on) {
      button.disabled = on;
      if (on) {
        button.setAttribute("aria-busy", "true");
        button.textContent = button.dataset.payingLabel || "Paying…";
      } else {
        button.removeAttribute("aria-busy");
        button.textContent = buttonText;
      }
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (button.disabled) { return; }  // a double click sends one request
      clearErrors();
      var checked = checkRows(true);
      if (checked.problems.length) {
        showErrors(checked.problems.length === 1 ? WORDS.checkOneField : WORDS.checkFields, checked.problems);
        return;
      }
      busy(true);
      pay().then(function (failed) {
        if (failed) {
          busy(false);
          showErrors(failed.message, failed.problems);
        }
      }, function (error) {
        busy(false);
        showErrors(error instanceof NetworkError ? WORDS.connectionFailed : WORDS.notMadeEnterCard, [BACK_TO_PAY]);
      });
    });

    refreshTotal();
  }

  // --- status page ------------------------------------------------------------------------

  // Poll the small JSON endpoint; when the status changes, fetch this page again and swap
  // its live region in place (no reload: focus and scroll stay, screen readers hear it).
  function watchStatus(live) {
    var delay = 2000;
    var first = live.querySelector("#payment-status");
    // A bank debit takes days: keep watching (slowly) for as long as the page is open.
    var patient = first && first.dataset.longWait === "1";
    var deadline = patient ? Infinity : Date.now() + 10 * 60 * 1000;
    var longest = patient ? 5 * 60 * 1000 : 30000;

    function section() { return live.querySelector("#payment-status"); }

    async function swap() {
      var response = await fetch(window.location.href, {credentials: "same-origin", headers: {"Accept": "text/html"}});
      if (!response.ok) { return false; }
      var page = new DOMParser().parseFromString(await response.text(), "text/html");
      var fresh = page.getElementById("payment-live");
      if (!fresh) { return false; }
      live.innerHTML = fresh.innerHTML;
      document.title = fresh.dataset.title || page.title;
      live.dataset.title = document.title;
      return true;
    }

    async function poll() {
      var current = section();
      if (!current || !current.dataset.statusUrl) { return; }  // final: nothing more to watch
      try {
        var response = await fetch(current.dataset.statusUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}});
        if (response.ok) {
          var body = await response.json();
          if (body.status !== current.dataset.status) { await swap(); }
        }
      } catch (e) { /* try again later */ }
      delay = Math.min(delay * 1.5, longest);
      if (Date.now() < deadline) { setTimeout(poll, delay); }
    }

    setTimeout(poll, delay);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("pay-form");
    if (form && window.Stripe && window.PortalMessages) { setUpPayForm(form); }
    var live = document.getElementById("payment-live");
    var section = document.getElementById("payment-status");
    if (live && section && section.dataset.statusUrl) { watchStatus(live); }
  });
})();
