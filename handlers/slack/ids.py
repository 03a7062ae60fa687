"""Every Slack id Hubspoke uses: commands, callback ids, action ids, block ids."""

from __future__ import annotations

from enum import StrEnum


class Command(StrEnum):
    USECASE = "/usecase"
    HUB = "/hub"
    WHOKNOWS = "/whoknows"


class View(StrEnum):
    """Modal callback ids."""

    INTAKE = "hubspoke_intake"
    RESUBMIT = "hubspoke_resubmit"
    REASON = "hubspoke_reason"
    REASSIGN = "hubspoke_reassign"
    EDIT = "hubspoke_edit"
    CLOSE = "hubspoke_close"
    REOPEN = "hubspoke_reopen"
    DIFFERENT = "hubspoke_different"
    RETRO = "hubspoke_retro"
    NOMINATE = "hubspoke_nominate"


class Action(StrEnum):
    APPROVE = "hubspoke_approve"
    REJECT = "hubspoke_reject"
    REQUEST_CHANGES = "hubspoke_request_changes"
    REASSIGN = "hubspoke_reassign"
    PICK_REVIEWER = "hubspoke_pick_reviewer"
    EDIT_RESUBMIT = "hubspoke_edit_resubmit"
    EDIT = "hubspoke_edit"
    WITHDRAW = "hubspoke_withdraw"
    CLOSE = "hubspoke_close"
    REOPEN = "hubspoke_reopen"
    TAKE_OVER = "hubspoke_take_over"
    SAME_AS = "hubspoke_same_as"
    RELATED = "hubspoke_related"
    DIFFERENT = "hubspoke_different"
    WRITE_RETRO = "hubspoke_write_retro"
    PRESENT = "hubspoke_present"
    NOT_THIS_TIME = "hubspoke_not_this_time"
    NOMINATE = "hubspoke_nominate"
    OPEN_DRAFT = "hubspoke_open_draft"
    NEW_USE_CASE = "hubspoke_new_use_case"
    WHOKNOWS_MORE = "hubspoke_whoknows_more"


DECISION_ACTIONS = (Action.APPROVE, Action.REJECT, Action.REQUEST_CHANGES, Action.REASSIGN, Action.PICK_REVIEWER)


class Block(StrEnum):
    """Block ids of modal inputs; intake inputs use the Submission field names."""

    TITLE = "title"
    PROBLEM = "problem"
    DEPARTMENT = "department"
    BENEFIT = "benefit"
    SUCCESS_METRIC = "success_metric"
    DATA_SOURCES = "data_sources"
    DATA_AVAILABILITY = "data_availability"
    DATA_SENSITIVITY = "data_sensitivity"
    PEOPLE_AFFECTED = "people_affected"
    AUTONOMY = "autonomy"
    TARGET_DATE = "target_date"
    LINKS = "links"
    REASON = "reason"
    REVIEWER = "reviewer"
    NOTE = "note"
    NOMINEE = "nominee"
    # The retro form's questions (intake.retros.retro_fields).
    WORKED = "worked"
    DIDNT = "didnt"
    DIFFERENTLY = "differently"
    METRIC_RESULT = "metric_result"
    METRIC_MET = "metric_met"


INPUT_ACTION = "value"  # every modal input element uses this action_id inside its own block
