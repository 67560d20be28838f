"""Teams and routing rules (MANAGE_ROUTING): lists, create and edit, rule order."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from portal.domain.core.errors import DomainError
from portal.domain.core.money import Money, MoneyError, normalize_currency
from portal.domain.customers.queries import customer_by_account_number
from portal.domain.routing.service import (
    RuleDetails, create_rule, delete_rule, move_rule, rule_by_public_id, rules_in_order, update_rule,
)
from portal.domain.routing.states import STRATEGY_LABELS
from portal.domain.followups.states import QUEUE_LABELS
from portal.domain.staff.policy import Permission
from portal.domain.staff.queries import staff_list, team, team_list
from portal.domain.staff.service import TeamDetails, create_team, update_team
from portal.forms import InvalidInput
from portal.forms.staff import RuleForm, TeamForm, choices, clock_text, minutes_of
from portal.web.context import db, request_context

from . import bp
from .auth import staff_actor
from .permissions import requires

WEEKDAY_NAMES = dict(zip("1234567", ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True))


# ---------------------------------------------------------------------------------------------
# Teams


@bp.get("/teams")
@requires(Permission.MANAGE_ROUTING)
def teams():
    return render_template("admin/teams.html", teams=team_list(db()), weekday_names=WEEKDAY_NAMES,
                           clock_text=clock_text, queue_labels={q.value: label for q, label in QUEUE_LABELS.items()})


def _team_form(formdata=None, **data) -> TeamForm:
    form = TeamForm(formdata, data=data) if formdata is None else TeamForm(formdata)
    form.members.choices = choices((member.public_id, f"{member.name} ({member.role})")
                                   for member in staff_list(db()) if member.is_active)
    return form


def _team_page(form: TeamForm, *, current=None, error: str | None = None, status: int = 200):
    return render_template("admin/team_form.html", form=form, team=current, error=error), status


def _team_details(form: TeamForm) -> tuple[TeamDetails, list[int]]:
    form.checked()
    opens, closes = minutes_of(form.opens.data), minutes_of(form.closes.data)
    if opens is None or closes is None:
        raise InvalidInput("Enter opening and closing times as HH:MM, for example 09:00 and 17:30.")
    by_public_id = {member.public_id: member.id for member in staff_list(db())}
    member_ids = [by_public_id[public_id] for public_id in form.members.data or [] if public_id in by_public_id]
    return TeamDetails(form.name.data, form.timezone.data, "".join(form.business_days.data or []), opens, closes,
                       bool(form.is_fallback.data), tuple(form.followup_queues.data or ())), member_ids


@bp.route("/teams/new", methods=["GET", "POST"])
@requires(Permission.MANAGE_ROUTING)
def team_new():
    if request.method == "GET":
        return _team_page(_team_form(timezone="UTC", business_days=list("12345"), opens="09:00", closes="17:00"))
    form = _team_form(request.form)
    try:
        details, member_ids = _team_details(form)
        created = create_team(request_context(staff_actor()), details, member_ids)
    except DomainError as refused:
        db().rollback()
        return _team_page(form, error=refused.message, status=400)
    flash(f"Team {created.name} is created.", "success")
    return redirect(url_for("admin.teams"))


@bp.route("/teams/<public_id>", methods=["GET", "POST"])
@requires(Permission.MANAGE_ROUTING)
def team_edit(public_id: str):
    current = team(db(), public_id)
    if request.method == "GET":
        form = _team_form(name=current.name, timezone=current.timezone, business_days=list(current.business_days),
                          opens=clock_text(current.opens_minute), closes=clock_text(current.closes_minute),
                          is_fallback=current.is_fallback, followup_queues=list(current.followup_queues or []),
                          members=[membership.staff.public_id for membership in current.memberships])
        return _team_page(form, current=current)
    form = _team_form(request.form)
    try:
        details, member_ids = _team_details(form)
        update_team(request_context(staff_actor()), current, details, member_ids)
    except DomainError as refused:
        db().rollback()
        return _team_page(form, current=current, error=refused.message, status=400)
    flash(f"Team {current.name} is updated.", "success")
    return redirect(url_for("admin.teams"))


# ---------------------------------------------------------------------------------------------
# Routing rules


@bp.get("/routing")
@requires(Permission.MANAGE_ROUTING)
def routing_rules():
    return render_template("admin/routing_rules.html", rules=rules_in_order(db()), strategy_labels=STRATEGY_LABELS,
                           money=Money)


def _rule_form(formdata=None, **data) -> RuleForm:
    form = RuleForm(formdata, data=data) if formdata is None else RuleForm(formdata)
    form.team.choices = choices((item.public_id, item.name) for item in team_list(db()))
    return form


def _rule_page(form: RuleForm, *, rule=None, error: str | None = None, status: int = 200):
    return render_template("admin/rule_form.html", form=form, rule=rule, error=error), status


def _amount(text: str, currency: str | None) -> int | None:
    if not (text or "").strip():
        return None
    if currency is None:
        raise InvalidInput("An amount range needs a currency.")
    try:
        return Money.parse(text, currency).minor
    except MoneyError as error:
        raise InvalidInput(str(error)) from None


def _rule_details(form: RuleForm) -> RuleDetails:
    form.checked()
    teams_by_public_id = {item.public_id: item.id for item in team_list(db())}
    if form.team.data not in teams_by_public_id:
        raise InvalidInput("Choose a team.")
    currency = None
    if form.currency.data:
        try:
            currency = normalize_currency(form.currency.data)
        except MoneyError as error:
            raise InvalidInput(str(error)) from None
    customer_id = None
    if form.customer.data:
        customer = customer_by_account_number(db(), form.customer.data)
        if customer is None:
            raise InvalidInput(f"No customer has the account number {form.customer.data}.")
        customer_id = customer.id
    tags = tuple(tag.strip() for tag in (form.tags.data or "").split(",") if tag.strip())
    return RuleDetails(
        name=form.name.data, team_id=teams_by_public_id[form.team.data], strategy=form.strategy.data,
        priority=form.priority.data, first_response_hours=form.first_response_hours.data,
        resolution_days=form.resolution_days.data, reasons=tuple(form.reasons.data or ()), currency=currency,
        min_amount_minor=_amount(form.min_amount.data, currency), max_amount_minor=_amount(form.max_amount.data, currency),
        customer_id=customer_id, customer_tags=tags, active=bool(form.active.data),
    )


@bp.route("/routing/new", methods=["GET", "POST"])
@requires(Permission.MANAGE_ROUTING)
def rule_new():
    if request.method == "GET":
        return _rule_page(_rule_form(active=True, strategy="least_open_load", priority="normal",
                                     first_response_hours=8, resolution_days=5))
    form = _rule_form(request.form)
    try:
        created = create_rule(request_context(staff_actor()), _rule_details(form))
    except DomainError as refused:
        db().rollback()
        return _rule_page(form, error=refused.message, status=400)
    flash(f"Rule {created.name} is added at the end of the list.", "success")
    return redirect(url_for("admin.routing_rules"))


def _amount_text(minor: int | None, currency: str | None) -> str:
    return "" if minor is None or currency is None else Money(minor, currency).plain()


@bp.route("/routing/<public_id>", methods=["GET", "POST"])
@requires(Permission.MANAGE_ROUTING)
def rule_edit(public_id: str):
    rule = rule_by_public_id(db(), public_id)
    if request.method == "GET":
        form = _rule_form(
            name=rule.name, active=rule.active, team=rule.team.public_id, strategy=rule.strategy,
            priority=rule.priority, first_response_hours=rule.first_response_hours,
            resolution_days=rule.resolution_days, reasons=list(rule.reasons), currency=rule.currency or "",
            min_amount=_amount_text(rule.min_amount_minor, rule.currency),
            max_amount=_amount_text(rule.max_amount_minor, rule.currency),
            customer=rule.customer.account_number if rule.customer else "", tags=", ".join(rule.customer_tags),
        )
        return _rule_page(form, rule=rule)
    form = _rule_form(request.form)
    try:
        update_rule(request_context(staff_actor()), rule, _rule_details(form))
    except DomainError as refused:
        db().rollback()
        return _rule_page(form, rule=rule, error=refused.message, status=400)
    flash(f"Rule {rule.name} is updated.", "success")
    return redirect(url_for("admin.routing_rules"))


@bp.post("/routing/<public_id>/move")
@requires(Permission.MANAGE_ROUTING)
def rule_move(public_id: str):
    move_rule(request_context(staff_actor()), rule_by_public_id(db(), public_id), request.form.get("direction", ""))
    return redirect(url_for("admin.routing_rules"))


@bp.post("/routing/<public_id>/delete")
@requires(Permission.MANAGE_ROUTING)
def rule_delete(public_id: str):
    rule = rule_by_public_id(db(), public_id)
    delete_rule(request_context(staff_actor()), rule)
    flash(f"Rule {rule.name} is deleted.", "success")
    return redirect(url_for("admin.routing_rules"))
