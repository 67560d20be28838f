"""A Stripe-shaped HTTP server on 127.0.0.1 that records every request the portal sends.

It answers the few API methods the portal calls with JSON shaped like Stripe's, keyed on the
ConfirmationToken's name (`ctoken_ok...`, `ctoken_3ds...`, `ctoken_declined...`; a US bank
account: `ctoken_bank...` processing, `ctoken_microdeposits...` waiting for them), and keeps
Stripe's idempotency rule: a key seen before returns the first answer if the parameters are the
same and 400 `idempotency_error` if not. `drop_creates = N` makes the next N create calls take
effect and then close the connection unanswered (a timeout after Stripe acted).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from tests.contract.sdk_params import decode_form

# `RecordingStripe.setups_confirmed_in_browser` set to this: the browser saved a US bank account
# that waits for its microdeposits.
BANK_MICRODEPOSITS = "bank_microdeposits"


@dataclass
class Recorded:
    method: str
    path: str
    params: dict
    headers: dict[str, str]


@dataclass
class StripeRecorder:
    requests: list[Recorded] = field(default_factory=list)
    intents: dict[str, dict] = field(default_factory=dict)
    drop_creates: int = 0
    customers: dict[str, dict] = field(default_factory=dict)
    setups: dict[str, dict] = field(default_factory=dict)
    methods: dict[str, dict] = field(default_factory=dict)
    # For pages driven by the Stripe.js stand-in (which calls no server): a SetupIntent read
    # back is taken as confirmed with a test card, as Stripe.js would have done.
    # BANK_MICRODEPOSITS: with a US bank account waiting for its microdeposits instead.
    setups_confirmed_in_browser: bool | str = False
    _keys: dict[str, tuple[dict, int, dict]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, method: str, path: str, params: dict, headers: dict[str, str]) -> tuple[int, dict] | None:
        with self._lock:
            self.requests.append(Recorded(method, path, params, headers))
            key = headers.get("Idempotency-Key")
            if method == "POST" and key in self._keys:
                first_params, status, body = self._keys[key]
                if first_params != params:
                    return 400, _error("idempotency_error", "Keys for idempotent requests can only be used with "
                                       "the same parameters they were first used with.", kind="idempotency_error")
            else:
                status, body = self._route(method, path, params)
                if method == "POST" and key:
                    self._keys[key] = (params, status, body)
            if method == "POST" and path == "/v1/payment_intents" and self.drop_creates:
                self.drop_creates -= 1
                return None  # it took effect; the answer is lost
            return status, body

    def _route(self, method: str, path: str, params: dict) -> tuple[int, dict]:
        parts = path.strip("/").split("/")
        if method == "POST" and parts == ["v1", "payment_intents"]:
            return self._create(params)
        if method == "GET" and parts == ["v1", "payment_intents"]:
            since = int(params.get("created", {}).get("gte", 0))
            data = [i for i in self.intents.values() if i["created"] >= since]
            return 200, {"object": "list", "data": data, "has_more": False, "url": "/v1/payment_intents"}
        if method == "POST" and parts == ["v1", "refunds"]:
            return self._refund(params)
        if len(parts) >= 3 and parts[:2] == ["v1", "payment_intents"] and parts[2] in self.intents:
            intent = self.intents[parts[2]]
            if method == "GET" and len(parts) == 3:
                return 200, intent
            if method == "POST" and parts[3:] == ["cancel"]:
                if intent["status"] in ("succeeded", "processing", "canceled"):
                    return 400, _error("payment_intent_unexpected_state", "You cannot cancel this PaymentIntent.")
                intent.update(status="canceled", cancellation_reason=params.get("cancellation_reason"))
                return 200, intent
        if parts[:2] in (["v1", "customers"], ["v1", "setup_intents"], ["v1", "payment_methods"]):
            return self._saved_methods(method, parts, params)
        return 404, _error("resource_missing", f"Unrecognized request URL ({method}: {path}).")

    def _saved_methods(self, method: str, parts: list[str], params: dict) -> tuple[int, dict]:
        """Customers, SetupIntents and PaymentMethods, as far as saving a card needs them.
        `confirm_setup` plays Stripe.js confirming a SetupIntent in the browser."""
        kind, rest = parts[1], parts[2:]
        if method == "POST" and kind == "customers" and not rest:
            customer_id = f"cus_{secrets.token_hex(8)}"
            self.customers[customer_id] = {"id": customer_id, "object": "customer", "livemode": False,
                                           "name": params.get("name"), "metadata": params.get("metadata", {}),
                                           "invoice_settings": {"default_payment_method": None}}
            return 200, self.customers[customer_id]
        if method == "POST" and kind == "customers" and len(rest) == 1 and rest[0] in self.customers:
            customer = self.customers[rest[0]]
            customer["invoice_settings"].update(params.get("invoice_settings", {}))
            return 200, customer
        if method == "POST" and kind == "setup_intents" and not rest:
            setup_id = f"seti_{secrets.token_hex(12)}"
            self.setups[setup_id] = {
                "id": setup_id, "object": "setup_intent", "status": "requires_payment_method", "livemode": False,
                "client_secret": f"{setup_id}_secret_{secrets.token_hex(8)}", "customer": params.get("customer"),
                "usage": params.get("usage"), "metadata": params.get("metadata", {}), "payment_method": None,
                "last_setup_error": None,
            }
            return 200, self.setups[setup_id]
        if method == "GET" and kind == "setup_intents" and len(rest) == 1 and rest[0] in self.setups:
            if self.setups_confirmed_in_browser and self.setups[rest[0]]["status"] == "requires_payment_method":
                if self.setups_confirmed_in_browser == BANK_MICRODEPOSITS:
                    self.confirm_bank_setup(rest[0], microdeposits=True)
                else:
                    self.confirm_setup(rest[0])
            setup = dict(self.setups[rest[0]])
            if setup["payment_method"] and "payment_method" in params.get("expand", {}).values():
                setup["payment_method"] = self.methods[setup["payment_method"]]
            return 200, setup
        if kind == "payment_methods" and rest and rest[0] in self.methods:
            payment_method = self.methods[rest[0]]
            if method == "POST" and rest[1:] == ["detach"]:
                payment_method["customer"] = None
            return 200, payment_method
        return 404, _error("resource_missing", f"No such object ({method}: /{'/'.join(parts)}).")

    def confirm_setup(self, setup_id: str, last4: str = "4242") -> str:
        method_id = f"pm_{secrets.token_hex(12)}"
        setup = self.setups[setup_id]
        self.methods[method_id] = {"id": method_id, "object": "payment_method", "type": "card",
                                   "customer": setup["customer"], "livemode": False,
                                   "card": {"brand": "visa", "last4": last4, "exp_month": 12, "exp_year": 2034}}
        setup.update(status="succeeded", payment_method=method_id)
        return method_id

    def confirm_bank_setup(self, setup_id: str, microdeposits: bool = False) -> str:
        """Stripe.js confirming a SetupIntent with a US bank account (Financial Connections, or
        microdeposits to confirm later: `finish_setup`)."""
        method_id = f"pm_{secrets.token_hex(12)}"
        setup = self.setups[setup_id]
        self.methods[method_id] = {"id": method_id, "object": "payment_method", "type": "us_bank_account",
                                   "customer": setup["customer"], "livemode": False,
                                   "us_bank_account": {"bank_name": "STRIPE TEST BANK", "last4": "6789",
                                                       "account_type": "checking", "routing_number": "110000000"}}
        setup.update(payment_method=method_id, mandate=f"mandate_{secrets.token_hex(8)}",
                     status="requires_action" if microdeposits else "succeeded",
                     next_action={"type": "verify_with_microdeposits", "verify_with_microdeposits": {
                         "hosted_verification_url": f"https://payments.stripe.com/microdeposit/{setup_id}"}}
                     if microdeposits else None)
        return method_id

    def finish_setup(self, setup_id: str) -> None:
        self.setups[setup_id].update(status="succeeded", next_action=None)

    def _create(self, params: dict) -> tuple[int, dict]:
        token = params.get("confirmation_token", "")
        if params.get("off_session") == "true" and params.get("payment_method") in self.methods:
            token = "ctoken_off_session"  # a saved card, charged with the customer away: it succeeds
            if self.methods[params["payment_method"]]["type"] == "us_bank_account":
                token = "ctoken_bank_off_session"  # a saved bank account under its mandate: processing
        if not token.startswith("ctoken_"):
            return 400, _error("parameter_missing", "This test server only confirms with a ConfirmationToken.")
        intent_id = f"pi_{secrets.token_hex(12)}"
        status = "requires_action" if "3ds" in token else "requires_payment_method" if "declined" in token else "succeeded"
        bank = "bank" in token or "microdeposits" in token
        if bank:
            status = "requires_action" if "microdeposits" in token else "processing"
        intent = {
            "id": intent_id, "object": "payment_intent", "amount": int(params["amount"]),
            "currency": params["currency"], "status": status, "livemode": False, "created": int(time.time()),
            "client_secret": f"{intent_id}_secret_{secrets.token_hex(8)}", "metadata": params.get("metadata", {}),
            "latest_charge": f"ch_{intent_id[3:]}" if status == "succeeded" else None,
            "payment_method_types": ["card"], "last_payment_error": None,
            "next_action": {"type": "use_stripe_sdk"} if status == "requires_action" else None,
        }
        if bank:
            intent["payment_method_types"] = ["us_bank_account"]
            intent["next_action"] = {"type": "verify_with_microdeposits", "verify_with_microdeposits": {
                "hosted_verification_url": f"https://payments.stripe.com/microdeposit/{intent_id}",
            }} if status == "requires_action" else None
        self.intents[intent_id] = intent
        if status == "requires_payment_method":
            intent["last_payment_error"] = {"type": "card_error", "code": "card_declined",
                                            "decline_code": "generic_decline", "message": "Your card was declined."}
            return 402, {"error": {**intent["last_payment_error"], "payment_intent": intent}}
        return 200, intent


    def _refund(self, params: dict) -> tuple[int, dict]:
        intent = self.intents.get(params.get("payment_intent", ""))
        if intent is None or intent["status"] != "succeeded":
            return 400, _error("charge_not_refundable", "This PaymentIntent has no successful charge to refund.")
        refund_id = f"re_{secrets.token_hex(12)}"
        return 200, {
            "id": refund_id, "object": "refund", "amount": int(params.get("amount", intent["amount"])),
            "currency": intent["currency"], "status": "succeeded", "payment_intent": intent["id"],
            "charge": intent["latest_charge"], "reason": params.get("reason"), "metadata": params.get("metadata", {}),
            "created": int(time.time()), "failure_reason": None,
        }


def _error(code: str, message: str, kind: str = "invalid_request_error") -> dict:
    return {"error": {"type": kind, "code": code, "message": message}}


class _Handler(BaseHTTPRequestHandler):
    recorder: StripeRecorder

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        params = decode_form(body if method == "POST" else url.query)
        answer = self.server.recorder.answer(method, url.path, params, dict(self.headers.items()))
        if answer is None:
            self.close_connection = True
            self.connection.close()
            return
        status, payload = answer
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", f"req_{secrets.token_hex(6)}")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self._serve("GET")

    def do_POST(self):  # noqa: N802
        self._serve("POST")

    def log_message(self, *args) -> None:
        pass


class RecorderServer:
    def __init__(self) -> None:
        self.recorder = StripeRecorder()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.recorder = self.recorder
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
