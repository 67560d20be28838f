"""Checks one recorded Stripe request against the request-parameter types that the installed
`stripe` package generates from Stripe's OpenAPI spec for its pinned API version
(`stripe/params/*`: a TypedDict per method, nested TypedDicts for nested fields), plus the
limits Stripe documents but the types cannot say."""

from __future__ import annotations

import re
import sys
import types
import typing
from urllib.parse import parse_qsl

import stripe.params as sdk_params
import typing_extensions
from stripe._request_options import RequestOptions

# (method, path pattern) -> the params TypedDict of that API method.
ENDPOINTS = [
    ("POST", re.compile(r"^/v1/payment_intents$"), "PaymentIntentCreateParams"),
    ("GET", re.compile(r"^/v1/payment_intents$"), "PaymentIntentListParams"),
    ("GET", re.compile(r"^/v1/payment_intents/pi_\w+$"), "PaymentIntentRetrieveParams"),
    ("POST", re.compile(r"^/v1/payment_intents/pi_\w+/cancel$"), "PaymentIntentCancelParams"),
    ("POST", re.compile(r"^/v1/payment_methods$"), "PaymentMethodCreateParams"),
    ("GET", re.compile(r"^/v1/tokens/tok_\w+$"), "TokenRetrieveParams"),
    # Saved payment methods.
    ("POST", re.compile(r"^/v1/customers$"), "CustomerCreateParams"),
    ("POST", re.compile(r"^/v1/customers/cus_\w+$"), "CustomerUpdateParams"),
    ("POST", re.compile(r"^/v1/setup_intents$"), "SetupIntentCreateParams"),
    ("GET", re.compile(r"^/v1/setup_intents/seti_\w+$"), "SetupIntentRetrieveParams"),
    ("GET", re.compile(r"^/v1/payment_methods/pm_\w+$"), "PaymentMethodRetrieveParams"),
    ("POST", re.compile(r"^/v1/payment_methods/pm_\w+/detach$"), "PaymentMethodDetachParams"),
    ("POST", re.compile(r"^/v1/refunds$"), "RefundCreateParams"),
    ("GET", re.compile(r"^/v1/refunds/re_\w+$"), "RefundRetrieveParams"),
]
MAX_AMOUNT = 99_999_999
MAX_METADATA_KEYS, MAX_METADATA_KEY_LENGTH, MAX_METADATA_VALUE_LENGTH = 50, 40, 500
# Keys of RequestOptions (api_key, idempotency_key, stripe_version...) are options, not parameters.
_OPTION_KEYS = set(RequestOptions.__annotations__)
_INT = re.compile(r"^-?\d+$")


def decode_form(text: str) -> dict:
    """Stripe's form encoding (`metadata[k]=v`, `list[0]=x`) back into nested dicts; list
    indices stay as digit-string keys and are checked as lists."""
    root: dict = {}
    for key, value in parse_qsl(text, keep_blank_values=True, strict_parsing=False):
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"{key} is both a value and a hash")
        node[parts[-1]] = value
    return root


def params_class(method: str, path: str):
    for m, pattern, name in ENDPOINTS:
        if m == method and pattern.match(path):
            return getattr(sdk_params, name)
    return None


def check_request(method: str, path: str, params: dict, headers: dict[str, str], api_version: str) -> list[str]:
    """Every problem with one request ("" list: it is what the pinned API accepts)."""
    problems: list[str] = []
    where = f"{method} {path}"
    if headers.get("Stripe-Version") != api_version:
        problems.append(f"{where}: Stripe-Version {headers.get('Stripe-Version')!r}, pinned {api_version!r}")
    if method == "POST" and not headers.get("Idempotency-Key"):
        problems.append(f"{where}: POST without an Idempotency-Key")
    cls = params_class(method, path)
    if cls is None:
        return [*problems, f"{where}: not an API method the portal is known to call"]
    _check_typed_dict(params, cls, where, problems, top=True)
    if "amount" in params and _INT.match(str(params["amount"])) and not 0 < int(params["amount"]) <= MAX_AMOUNT:
        problems.append(f"{where}: amount {params['amount']} outside 1..{MAX_AMOUNT}")
    metadata = params.get("metadata")
    if isinstance(metadata, dict):
        if len(metadata) > MAX_METADATA_KEYS:
            problems.append(f"{where}: {len(metadata)} metadata keys (at most {MAX_METADATA_KEYS})")
        for key, value in metadata.items():
            if len(key) > MAX_METADATA_KEY_LENGTH or len(str(value)) > MAX_METADATA_VALUE_LENGTH:
                problems.append(f"{where}: metadata {key!r} too long")
    return problems


def _check_typed_dict(value, cls, where: str, problems: list[str], top: bool = False) -> None:
    if not isinstance(value, dict):
        problems.append(f"{where}: expected a hash ({cls.__name__}), got {value!r}")
        return
    hints = _hints(cls, skip=_OPTION_KEYS if top else set())
    allowed = set(hints) - (_OPTION_KEYS if top else set())
    for key in set(getattr(cls, "__required_keys__", ())) - _OPTION_KEYS - set(value):
        problems.append(f"{where}: required parameter {key!r} missing")
    for key, item in value.items():
        if key not in allowed:
            problems.append(f"{where}: {key!r} is not a parameter of {cls.__name__} on this API version")
            continue
        _check(item, hints[key], f"{where} {key}", problems)


def _hints(cls, skip: set[str]) -> dict:
    """The class's field types, evaluated in its module, NotRequired/Required unwrapped."""
    namespace = vars(sys.modules[cls.__module__])
    hints = {}
    for key, annotation in cls.__annotations__.items():
        if key in skip:
            continue
        if isinstance(annotation, str):
            annotation = typing.ForwardRef(annotation)
        hint = typing._eval_type(annotation, namespace, None)
        while typing.get_origin(hint) in (typing_extensions.NotRequired, typing_extensions.Required):
            hint = typing.get_args(hint)[0]
        hints[key] = hint
    return hints


def _check(value, annotation, where: str, problems: list[str]) -> None:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        trial_runs = []
        for arg in args:
            trial: list[str] = []
            _check(value, arg, where, trial)
            if not trial:
                return
            trial_runs.append(trial)
        problems.append(f"{where}: {value!r} fits none of {annotation} ({trial_runs[0][0]})")
        return
    if origin is typing.Literal or origin is typing_extensions.Literal:
        if value not in [str(a).lower() if isinstance(a, bool) else str(a) for a in args]:
            problems.append(f"{where}: {value!r} is not one of {args}")
        return
    if origin is list:
        if not isinstance(value, dict) or sorted(value, key=int) != [str(i) for i in range(len(value))]:
            problems.append(f"{where}: expected a list, got {value!r}")
            return
        for index, item in value.items():
            _check(item, args[0], f"{where}[{index}]", problems)
        return
    if origin is dict:
        if not isinstance(value, dict):
            problems.append(f"{where}: expected a hash, got {value!r}")
            return
        for key, item in value.items():
            _check(item, args[1], f"{where}[{key}]", problems)
        return
    if isinstance(annotation, type) and typing_extensions.is_typeddict(annotation):
        _check_typed_dict(value, annotation, where, problems)
        return
    if annotation is str:
        if not isinstance(value, str):
            problems.append(f"{where}: expected a string, got {value!r}")
    elif annotation is bool:
        if value not in ("true", "false"):
            problems.append(f"{where}: expected a boolean, got {value!r}")
    elif annotation is int:
        if not (isinstance(value, str) and _INT.match(value)):
            problems.append(f"{where}: expected an integer, got {value!r}")
    elif annotation is float:
        try:
            float(value)
        except (TypeError, ValueError):
            problems.append(f"{where}: expected a number, got {value!r}")
    elif annotation is typing.Any or getattr(annotation, "__name__", "") == "UntypedStripeObject":
        return
    else:
        problems.append(f"{where}: no rule for the type {annotation!r}")
