"""Admin screen for workflows: the list, a per-type form of steps, and the last 20 runs.

The step rows are edited with plain POSTs (no script needed): every button submits the whole
form, ``op`` says what to do (``add``, ``up-N``, ``down-N``, ``remove-N``, ``save``) and the
page comes back with the rows rearranged; only ``save`` stores them, through the same
service the API uses, so the form refuses exactly what the API refuses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from notifier.auth import admin_required
from notifier.service import workflow_steps, workflows
from notifier.service.errors import NotFound, ValidationError
from notifier.web import bp
from notifier.web.admin_forms import ActionForm

UNLESS_CHOICES = ("", *workflows.UNLESS)


@dataclass
class FlowForm:
    """What the form shows: the step rows and the throttle and send-time fields, as typed."""

    rows: list[dict[str, str]] = field(default_factory=list)
    limit: str = ""
    per: str = ""
    optimize: bool = False


def _rows_from_form() -> list[dict[str, str]]:
    """Return the step rows as posted: parallel lists, one entry per row."""
    f = request.form
    kinds, channels, waits, unless = (f.getlist(k) for k in ("kind", "channel", "wait", "unless"))
    rows = []
    for i, kind in enumerate(kinds[: workflows.MAX_STEPS + 1]):
        rows.append(
            {
                "kind": "wait" if kind == "wait" else "channel",
                "channel": channels[i] if i < len(channels) else "",
                "wait": (waits[i] if i < len(waits) else "").strip(),
                "unless": unless[i] if i < len(unless) else "",
            }
        )
    return rows


def _rows_from_steps(steps: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [
        {
            "kind": "wait" if "wait" in s else "channel",
            "channel": s.get("channel") or "",
            "wait": s.get("wait") or "",
            "unless": s.get("unless") or "",
        }
        for s in steps
    ]


def _steps(rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Turn form rows into API steps (a wait row keeps only its wait and unless)."""
    out: list[dict[str, Any]] = []
    for r in rows:
        if r["kind"] == "wait":
            out.append({"wait": r["wait"], **({"unless": r["unless"]} if r["unless"] else {})})
        else:
            out.append({"channel": r["channel"]})
    return out


def _rearrange(rows: list[dict[str, str]], op: str) -> list[dict[str, str]]:
    """Apply one row operation (add, up-N, down-N, remove-N) to the rows."""
    if op == "add":
        return [*rows, {"kind": "channel", "channel": "email", "wait": "", "unless": ""}]
    verb, _, index = op.partition("-")
    if not index.isdigit() or int(index) >= len(rows):
        return rows
    i = int(index)
    if verb == "remove":
        return rows[:i] + rows[i + 1 :]
    j = i - 1 if verb == "up" else i + 1 if verb == "down" else i
    if 0 <= j < len(rows):
        rows[i], rows[j] = rows[j], rows[i]
    return rows


def _page(ntype: str, form: FlowForm, errors: dict[str, str], status: int = 200) -> Any:
    wf = workflows.find(current_user.tenant_id, ntype)
    html = render_template(
        "admin/workflow_edit.html",
        page_title=f"{ntype} · " + gettext("Workflows"),
        active="admin",
        section="workflows",
        ntype=ntype,
        exists=wf is not None,
        form=form,
        errors=errors,
        channels=workflows.STEP_CHANNELS,
        unless_choices=UNLESS_CHOICES,
        max_steps=workflows.MAX_STEPS,
        runs=workflow_steps.recent_runs(wf.id) if wf else [],
        action=ActionForm(formdata=None),
    )
    return current_app.make_response((html, status))


@bp.get("/admin/workflows")
@admin_required
def admin_workflows() -> Any:
    """List the tenant's workflows, with a form to start one for a new type."""
    items = [workflows.workflow_dict(w) for w in workflows.listing(current_user.tenant_id)]
    html = render_template(
        "admin/workflows.html",
        page_title=gettext("Workflows") + " · Admin",
        active="admin",
        section="workflows",
        items=items,
        action=ActionForm(formdata=None),
    )
    return current_app.make_response(html)


@bp.post("/admin/workflows")
@admin_required
def admin_workflows_new() -> Any:
    """Open the form of the type typed in (a new workflow is stored only on save)."""
    if not ActionForm().validate_on_submit():
        abort(400)
    ntype = request.form.get("type", "").strip()
    if not workflows.TYPE.match(ntype):
        flash(gettext("A type is 1 to 64 letters, digits or _ . : -"), "error")
        return redirect(url_for("web.admin_workflows"))
    return redirect(url_for("web.admin_workflow", ntype=ntype))


@bp.get("/admin/workflows/<ntype>")
@admin_required
def admin_workflow(ntype: str) -> Any:
    """Show the workflow of a type as a form (a starting point when it has none)."""
    if not workflows.TYPE.match(ntype):
        abort(404)
    wf = workflows.find(current_user.tenant_id, ntype)
    if wf is None:
        steps: list[dict[str, Any]] = [
            {"channel": "in_app"},
            {"wait": "PT10M", "unless": "read"},
            {"channel": "email"},
        ]
        form = FlowForm(_rows_from_steps(steps))
    else:
        throttle = wf.throttle or {}
        form = FlowForm(
            _rows_from_steps(wf.steps),
            str(throttle.get("limit", "")),
            str(throttle.get("per", "")),
            bool(wf.optimize_send_time),
        )
    return _page(ntype, form, {})


@bp.post("/admin/workflows/<ntype>")
@admin_required
def admin_workflow_post(ntype: str) -> Any:
    """Rearrange the rows, or save the workflow (errors come back in the form, 422)."""
    if not workflows.TYPE.match(ntype):
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    op = request.form.get("op", "save")
    form = FlowForm(
        _rows_from_form(),
        request.form.get("limit", "").strip(),
        request.form.get("per", "").strip(),
        request.form.get("optimize") == "on",
    )
    if op != "save":
        form.rows = _rearrange(form.rows, op)
        return _page(ntype, form, {})
    throttle: dict[str, Any] | None = None
    if form.limit or form.per:
        limit = int(form.limit) if form.limit.isdigit() and len(form.limit) < 7 else form.limit
        throttle = {"limit": limit, "per": form.per}
    try:
        workflows.put(current_user.tenant_id, ntype, _steps(form.rows), throttle, form.optimize)
    except ValidationError as exc:
        return _page(ntype, form, exc.fields, status=422)
    flash(gettext("Workflow %(type)s saved.", type=ntype), "success")
    return redirect(url_for("web.admin_workflow", ntype=ntype))


@bp.post("/admin/workflows/<ntype>/delete")
@admin_required
def admin_workflow_delete(ntype: str) -> Any:
    """Remove the workflow of a type; its runs already started go on."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        workflows.remove(current_user.tenant_id, ntype)
    except NotFound:
        abort(404)
    flash(gettext("Workflow %(type)s removed.", type=ntype), "success")
    return redirect(url_for("web.admin_workflows"))
