/*
 * Saving a card for later off-session payments (form#method-form; no inline scripts: CSP).
 *
 * On submit: the server creates a SetupIntent for the company (POST the form: JSON with its
 * client secret and where to report back) -> Stripe.js confirms it in the page -> POST the
 * complete URL, where the server reads the SetupIntent back from Stripe and records the card
 * (the browser's word is never taken for it) -> the saved cards page.
 * How Stripe.js is driven depends on the server's STRIPE_DIALECT (data-stripe-dialect):
 * - "real": the Payment Element in setup mode, deferred (elements({mode: "setup", currency})),
 *   elements.submit() before the server is asked, then stripe.confirmSetup({elements,
 *   clientSecret, confirmParams: {return_url}, redirect: "if_required"}). Where the server offers
 *   a US bank account (data-bank-accounts), the Payment Element offers it beside a card; one
 *   waiting for microdeposits comes back requires_action (no error) and the server records it
 *   as pending verification.
 * - "localstripe": its fake Stripe.js has only the card element:
 *   stripe.confirmCardSetup(clientSecret, {payment_method: {card}}).
 * Its words come from the page, in its language (the form's data-messages, read with PortalMessages
 * from messages.js); ENGLISH is only for a page that lacks one.
 */
(function () {
  "use strict";

  var ENGLISH = {
    checkCard: "Check the card details.",
    notSavedTryAgain: "The card was not saved. Please try again.",
    notSaved: "The card was not saved.",
    saving: "Saving…",
    unreachable: "We could not reach the server. Check your connection and try again."
  };

  var DIALECTS = {
    real: function (stripe, form) {
      var options = {mode: "setup", currency: form.dataset.currency.toLowerCase()};
      // The types the server's SetupIntent allows (a bank account only where it offers one).
      if (form.dataset.bankAccounts === "true") { options.paymentMethodTypes = ["card", "us_bank_account"]; }
      var elements = stripe.elements(options);
      elements.create("payment").mount("#card-element");
      return {
        check: async function () {
          var submitted = await elements.submit();
          return submitted.error ? {error: submitted.error} : {};
        },
        confirm: function (clientSecret, returnUrl) {
          return stripe.confirmSetup({elements: elements, clientSecret: clientSecret,
                                      confirmParams: {return_url: returnUrl}, redirect: "if_required"});
        }
      };
    },
    localstripe: function (stripe) {
      var card = stripe.elements().create("card");
      card.mount("#card-element");
      return {
        check: async function () { return {}; },
        confirm: function (clientSecret) {
          return stripe.confirmCardSetup(clientSecret, {payment_method: {card: card}});
        }
      };
    }
  };

  function setUp(form) {
    var stripe = window.Stripe(form.dataset.publishableKey);
    var dialect = (DIALECTS[form.dataset.stripeDialect] || DIALECTS.real)(stripe, form);
    var button = document.getElementById("save-button");
    var summary = document.getElementById("error-summary");
    var errorBox = document.getElementById("method-error");
    var csrfToken = form.querySelector("input[name=csrf_token]").value;
    var buttonText = button.textContent;
    var words = window.PortalMessages.read(form, ENGLISH);

    async function post(url, body) {
      var response = await fetch(url, {
        method: "POST", credentials: "same-origin", body: body,
        headers: {"Accept": "application/json", "X-CSRFToken": csrfToken}
      });
      var data = await response.json().catch(function () { return {}; });
      return {ok: response.ok, body: data};
    }

    // -> null when the browser moves on, else the message to show.
    async function save() {
      var checked = await dialect.check();
      if (checked.error) { return checked.error.message || words.checkCard; }
      var started = await post(form.action, new FormData(form));
      if (!started.ok) { return started.body.error || words.notSavedTryAgain; }
      var result = await dialect.confirm(started.body.client_secret, started.body.return_url);
      if (result.error) { return result.error.message || words.notSaved; }
      var done = await post(started.body.complete_url, null);
      if (!done.ok) { return done.body.error || words.notSavedTryAgain; }
      window.location.assign(done.body.methods_url);
      return null;
    }

    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      if (button.disabled) { return; }
      summary.classList.add("hidden");
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      button.textContent = words.saving;
      var message;
      try {
        message = await save();
      } catch (error) {
        message = words.unreachable;
      }
      if (message) {
        errorBox.textContent = message;
        summary.classList.remove("hidden");
        summary.focus();
        button.disabled = false;
        button.removeAttribute("aria-busy");
        button.textContent = buttonText;
      }
    });
  }

  var form = document.getElementById("method-form");
  if (form && window.Stripe) { setUp(form); }
})();
