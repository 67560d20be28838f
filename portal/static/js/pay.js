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
 * Status page (#payment-status[data-status-url]): polls a small JSON endpoint and reloads when
 * the status changes (the webhook settles the payment; this page only displays).
 */
(function () {
  "use strict";

  var RETRIES_WHEN_UNAVAILABLE = 3;
  var RETRY_DELAY_MS = 1500;

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
      elements.create("payment").mount("#card-element");
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
    if (result.error) { return result.error.message || "Card authentication failed."; }
    var status = result.paymentIntent && result.paymentIntent.status;
    if (status === "succeeded" || status === "processing" || status === "requires_capture") { return null; }
    return "Card authentication failed. Nothing was charged.";
  }

  function setUpPayForm(form) {
    var stripe = window.Stripe(form.dataset.publishableKey);
    var dialect = (DIALECTS[form.dataset.stripeDialect] || DIALECTS.real)(stripe, form);

    var button = document.getElementById("pay-button");
    var errorBox = document.getElementById("pay-error");
    var totalBox = document.getElementById("pay-total");
    var exponent = parseInt(form.dataset.exponent, 10);
    var currency = form.dataset.currency;
    var csrfToken = form.querySelector("input[name=csrf_token]").value;

    function showError(message) {
      errorBox.textContent = message;
      errorBox.classList.remove("hidden");
    }

    function clearError() {
      errorBox.textContent = "";
      errorBox.classList.add("hidden");
    }

    function refreshTotal() {
      var total = 0;
      var valid = true;
      form.querySelectorAll(".pay-row").forEach(function (row) {
        var input = row.querySelector(".amount-input");
        var reason = row.querySelector(".reason-input");
        var minor = parseMinor(input.value, exponent);
        var payable = parseInt(row.dataset.payableMinor, 10);
        if (minor === null || minor <= 0 || minor > payable) {
          valid = false;
          input.setAttribute("aria-invalid", "true");
        } else {
          input.removeAttribute("aria-invalid");
          total += minor;
        }
        reason.required = minor !== null && minor < payable;
      });
      totalBox.textContent = valid ? window.PortalMoney.format(total, currency, exponent) : "–";
      if (valid) { dialect.update(total); }
    }

    form.addEventListener("input", function (event) {
      if (event.target.classList.contains("amount-input")) { refreshTotal(); }
    });

    async function postForm(data) {
      for (var attempt = 0; ; attempt++) {
        var response = await fetch(form.action, {
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

    async function pay() {
      var made = await dialect.token();
      if (made.error) {
        return made.error.message || "Check the card details.";
      }
      var data = new FormData(form);
      data.set(made.field, made.id);
      var answer = await postForm(data);
      if (!answer.ok) {
        return answer.body.error || "The payment could not be made. Please try again.";
      }
      if (answer.body.client_secret) {
        var result = await dialect.authenticate(answer.body.client_secret);
        var failure = authenticationFailed(result);
        if (failure) {
          await cancelAttempt(answer.body.cancel_url);
          return failure;
        }
      }
      window.location.assign(answer.body.payment_url);
      return null;
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (button.disabled) { return; }  // a double click sends one request
      clearError();
      button.disabled = true;
      pay().then(function (message) {
        if (message) {
          showError(message);
          button.disabled = false;
        }
      }, function () {
        showError("The connection failed. Check this page's status before paying again.");
        button.disabled = false;
      });
    });

    refreshTotal();
  }

  // --- status page ------------------------------------------------------------------------

  function watchStatus(section) {
    var url = section.dataset.statusUrl;
    var shown = section.dataset.status;
    var delay = 2000;
    var deadline = Date.now() + 10 * 60 * 1000;

    async function poll() {
      try {
        var response = await fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}});
        if (response.ok) {
          var body = await response.json();
          if (body.status !== shown) {
            window.location.reload();
            return;
          }
        }
      } catch (e) { /* try again later */ }
      delay = Math.min(delay * 1.5, 30000);
      if (Date.now() < deadline) { setTimeout(poll, delay); }
    }

    setTimeout(poll, delay);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("pay-form");
    if (form && window.Stripe) { setUpPayForm(form); }
    var section = document.getElementById("payment-status");
    if (section && section.dataset.statusUrl) { watchStatus(section); }
  });
})();
