/*
 * A scripted stand-in of Stripe.js v3 for the calls the pay page makes in the "real" dialect:
 * Stripe(key), stripe.elements({mode: "payment", amount, currency}) (deferred intent),
 * elements.update(), elements.create("payment").mount(), elements.submit(),
 * stripe.createConfirmationToken({elements, params}) and stripe.handleNextAction({clientSecret});
 * and the saved cards page's: stripe.elements({mode: "setup", currency}) and
 * stripe.confirmSetup({elements, clientSecret, confirmParams: {return_url}, redirect}).
 *
 * Results follow Stripe.js's documented shapes: promises resolving to {error} or to the object
 * ({confirmationToken}, {paymentIntent}); misuse throws an IntegrationError as Stripe.js does.
 * The stand-in makes no network requests.
 *
 * The test scripts one outcome per payment attempt, before the page loads:
 *   window.STRIPE_STANDIN_SCRIPT = ["3ds_fail", "ok"]
 * - "ok":             a token the recording server confirms at once (ctoken_ok_...)
 * - "declined":       a token the recording server declines (ctoken_declined_...)
 * - "token_declined": createConfirmationToken answers a card_error, no token
 * - "incomplete":     elements.submit() answers a validation_error
 * - "3ds_ok":         a token needing 3-D Secure (ctoken_3ds_...); handleNextAction succeeds
 * - "3ds_fail":       the same; handleNextAction answers payment_intent_authentication_failure
 * - "bank":           a US bank account verified at once (ctoken_bank_...): the recording server
 *                     answers processing. Choose it first: the element's "US bank account" tab
 *                     (offered for USD) fires the documented change event with value.type.
 * - "setup_ok":       confirmSetup answers {setupIntent} succeeded (no redirect for a card)
 * - "setup_declined": confirmSetup answers a card_error
 * - "setup_microdeposits": confirmSetup answers {setupIntent} requires_action, a US bank account
 *                     waiting for its microdeposits (next_action verify_with_microdeposits)
 * What the page called and the misuses found are kept in the tab's sessionStorage ("stripeStandIn":
 * {calls, problems}), so a test reads them after the page has moved on to the status page.
 */
(function () {
  "use strict";

  var LOG = "stripeStandIn";
  var kept = JSON.parse(window.sessionStorage.getItem(LOG) || '{"calls": [], "problems": []}');
  var state = {calls: kept.calls, problems: kept.problems, script: (window.STRIPE_STANDIN_SCRIPT || []).slice(),
               attempt: null, tokens: 0};

  function save() {
    window.sessionStorage.setItem(LOG, JSON.stringify({calls: state.calls, problems: state.problems}));
  }

  function record(method, args) {
    state.calls.push({method: method, args: JSON.parse(JSON.stringify(args === undefined ? null : args))});
    save();
  }

  function integrationError(message) {
    state.problems.push(message);
    save();
    var error = new Error(message);
    error.name = "IntegrationError";
    throw error;
  }

  function checkAmount(amount, where) {
    if (!Number.isInteger(amount) || amount <= 0) { integrationError(where + ": amount must be a positive integer, not " + amount); }
  }

  function checkCurrency(currency, where) {
    if (typeof currency !== "string" || !/^[a-z]{3}$/.test(currency)) {
      integrationError(where + ": currency must be a lowercase ISO code, not " + currency);
    }
  }

  function nextAttempt() {
    if (!state.script.length) { integrationError("the test scripted no outcome for this payment attempt"); }
    state.attempt = state.script.shift();
    return state.attempt;
  }

  function later(value) {
    return new Promise(function (resolve) { setTimeout(function () { resolve(value); }, 0); });
  }

  function Elements(options) {
    var self = this;
    var element = null;
    var submitted = false;
    var chosen = "card";
    self.options = Object.assign({}, options);
    self._chosen = function () { return chosen; };

    self.update = function (changes) {
      record("elements.update", changes);
      if (!changes || typeof changes !== "object") { integrationError("elements.update: options must be an object"); }
      if ("amount" in changes) { checkAmount(changes.amount, "elements.update"); }
      if ("currency" in changes) { checkCurrency(changes.currency, "elements.update"); }
      if ("mode" in changes && changes.mode !== self.options.mode) { integrationError("elements.update: mode cannot change"); }
      Object.assign(self.options, changes);
      submitted = false;  // a changed amount needs a new submit
    };

    self.create = function (type, elementOptions) {
      record("elements.create", {type: type, options: elementOptions || null});
      if (type !== "payment") { integrationError("elements.create: only the Payment Element is scripted, not " + type); }
      if (element) { integrationError("elements.create: only one Payment Element per Elements group"); }
      var handlers = {};
      var mountedOn = null;
      element = {
        mount: function (target) {
          record("paymentElement.mount", typeof target === "string" ? target : "(DOM element)");
          var node = typeof target === "string" ? document.querySelector(target) : target;
          if (!node || !node.appendChild) { integrationError("paymentElement.mount: no element matches " + target); }
          if (mountedOn) { integrationError("paymentElement.mount: already mounted"); }
          mountedOn = node;
          var box = document.createElement("div");
          box.className = "standin-payment-element";
          box.setAttribute("data-standin", "payment-element");
          box.textContent = "Payment details (test stand-in of Stripe's Payment Element)";
          node.appendChild(box);
          // Stripe decides the methods offered (automatic payment methods): here card, and a US
          // bank account for USD. Choosing one fires "change" ({elementType, complete, empty,
          // collapsed, value: {type}}), as Stripe.js documents for the Payment Element.
          var types = self.options.currency === "usd" && self.options.mode === "payment" ? ["card", "us_bank_account"] : [];
          types.forEach(function (type) {
            var tab = document.createElement("button");
            tab.type = "button";
            tab.setAttribute("data-standin-type", type);
            tab.textContent = type === "card" ? "Card" : "US bank account";
            tab.addEventListener("click", function () {
              chosen = type;
              record("paymentElement.choose", type);
              (handlers.change || []).forEach(function (h) {
                h({elementType: "payment", complete: true, empty: false, collapsed: false, value: {type: type}});
              });
            });
            box.appendChild(tab);
          });
          later(null).then(function () { (handlers.ready || []).forEach(function (h) { h({elementType: "payment"}); }); });
        },
        on: function (event, handler) {
          (handlers[event] = handlers[event] || []).push(handler);
          return element;
        },
        destroy: function () {
          record("paymentElement.destroy", null);
          if (mountedOn) { mountedOn.textContent = ""; }
          mountedOn = null;
          element = null;
        },
        isMounted: function () { return mountedOn !== null; }
      };
      return element;
    };

    self.submit = function () {
      record("elements.submit", null);
      if (!element || !element.isMounted()) { integrationError("elements.submit: mount the Payment Element first"); }
      var outcome = nextAttempt();
      if (outcome === "incomplete") {
        submitted = false;
        return later({error: {type: "validation_error", code: "incomplete_number", message: "Your card number is incomplete."}});
      }
      submitted = true;
      return later({});
    };

    self._takeSubmission = function () {
      if (!element || !element.isMounted()) { integrationError("createConfirmationToken: no mounted Payment Element"); }
      if (!submitted) { integrationError("createConfirmationToken: elements.submit() must be called and succeed first"); }
      submitted = false;
    };
  }

  var ALLOWED_TOKEN_PARAMS = ["payment_method_data", "return_url", "shipping", "payment_method_options"];

  function StripeStandIn(key) {
    if (!(this instanceof StripeStandIn)) { return new StripeStandIn(key); }
    record("Stripe", key);
    if (typeof key !== "string" || !/^pk_(test|live)_/.test(key)) { integrationError("Stripe(): invalid publishable key " + key); }
    var groups = [];

    this.elements = function (options) {
      record("stripe.elements", options);
      if (!options || (options.mode !== "payment" && options.mode !== "setup")) {
        integrationError("stripe.elements: deferred intents need mode: payment or setup");
      }
      if ("clientSecret" in options) { integrationError("stripe.elements: mode and clientSecret exclude each other"); }
      if (options.mode === "payment") { checkAmount(options.amount, "stripe.elements"); }
      if (options.mode === "setup" && "amount" in options) { integrationError("stripe.elements: setup mode takes no amount"); }
      checkCurrency(options.currency, "stripe.elements");
      var group = new Elements(options);
      groups.push(group);
      return group;
    };

    this.createConfirmationToken = function (options) {
      record("stripe.createConfirmationToken", {params: (options && options.params) || null,
                                                amount: options && options.elements && options.elements.options.amount});
      if (!options || groups.indexOf(options.elements) < 0) {
        integrationError("createConfirmationToken: elements must be the Elements group of the Payment Element");
      }
      Object.keys(options.params || {}).forEach(function (name) {
        if (ALLOWED_TOKEN_PARAMS.indexOf(name) < 0) { integrationError("createConfirmationToken: unknown parameter " + name); }
      });
      options.elements._takeSubmission();
      var outcome = state.attempt;
      if (outcome === "token_declined") {
        return later({error: {type: "card_error", code: "card_declined", decline_code: "generic_decline",
                              message: "Your card was declined."}});
      }
      var kind = {ok: "ok", declined: "declined", "3ds_ok": "3ds", "3ds_fail": "3ds", bank: "bank"}[outcome];
      if ((outcome === "bank") !== (options.elements._chosen() === "us_bank_account")) {
        integrationError("createConfirmationToken: the scripted outcome " + outcome + " does not fit the method chosen");
      }
      if (!kind) { integrationError("createConfirmationToken: no token for the scripted outcome " + outcome); }
      state.tokens += 1;
      var id = "ctoken_" + kind + "_" + state.tokens + "_" + Math.random().toString(36).slice(2, 10);
      return later({confirmationToken: {id: id, object: "confirmation_token", livemode: false,
                                        created: Math.floor(Date.now() / 1000), payment_intent: null}});
    };

    this.confirmSetup = function (options) {
      record("stripe.confirmSetup", options && {clientSecret: options.clientSecret, confirmParams: options.confirmParams,
                                                redirect: options.redirect || null});
      if (!options || groups.indexOf(options.elements) < 0 || options.elements.options.mode !== "setup") {
        integrationError("confirmSetup: elements must be the Elements group (mode: setup) of the Payment Element");
      }
      if (typeof options.clientSecret !== "string" || !/^seti_[^_]+_secret_[^_]+$/.test(options.clientSecret)) {
        integrationError("confirmSetup: expected clientSecret: a SetupIntent's client secret");
      }
      var params = options.confirmParams || {};
      if (typeof params.return_url !== "string" || !/^https?:\/\//.test(params.return_url)) {
        integrationError("confirmSetup: confirmParams.return_url must be an absolute URL");
      }
      if (options.redirect !== undefined && options.redirect !== "always" && options.redirect !== "if_required") {
        integrationError("confirmSetup: redirect must be always or if_required");
      }
      options.elements._takeSubmission();
      var id = options.clientSecret.split("_secret_")[0];
      if (state.attempt === "setup_ok") {
        if (options.redirect !== "if_required") { integrationError("confirmSetup: a card would redirect to return_url here"); }
        return later({setupIntent: {id: id, object: "setup_intent", client_secret: options.clientSecret, status: "succeeded",
                                    payment_method: "pm_standin_" + Math.random().toString(36).slice(2, 10)}});
      }
      if (state.attempt === "setup_microdeposits") {
        var types = options.elements.options.paymentMethodTypes || [];
        if (types.indexOf("us_bank_account") < 0) { integrationError("confirmSetup: us_bank_account is not offered"); }
        return later({setupIntent: {id: id, object: "setup_intent", client_secret: options.clientSecret,
                                    status: "requires_action", payment_method: "pm_standin_bank",
                                    next_action: {type: "verify_with_microdeposits", verify_with_microdeposits: {
                                      hosted_verification_url: "https://payments.stripe.com/microdeposit/standin",
                                      microdeposit_type: "amounts"}}}});
      }
      if (state.attempt === "setup_declined") {
        return later({error: {type: "card_error", code: "card_declined", decline_code: "generic_decline",
                              message: "Your card was declined.",
                              setup_intent: {id: id, object: "setup_intent", status: "requires_payment_method"}}});
      }
      integrationError("confirmSetup: no result for the scripted outcome " + state.attempt);
    };

    this.handleNextAction = function (options) {
      record("stripe.handleNextAction", options);
      if (!options || typeof options.clientSecret !== "string" || !/^pi_[^_]+_secret_[^_]+$/.test(options.clientSecret)) {
        integrationError("handleNextAction: expected {clientSecret: a PaymentIntent's client secret}");
      }
      var intent = {id: options.clientSecret.split("_secret_")[0], object: "payment_intent",
                    client_secret: options.clientSecret, livemode: false};
      if (state.attempt === "3ds_ok") {
        return later({paymentIntent: Object.assign(intent, {status: "succeeded", next_action: null})});
      }
      if (state.attempt === "3ds_fail") {
        return later({error: {
          type: "card_error", code: "payment_intent_authentication_failure",
          message: "We are unable to authenticate your payment method. Please choose a different payment method and try again.",
          payment_intent: Object.assign(intent, {status: "requires_payment_method", next_action: null})
        }});
      }
      integrationError("handleNextAction: the scripted outcome " + state.attempt + " needs no next action");
    };
  }

  window.Stripe = StripeStandIn;
})();
