"""RCA services: keyword-only functions taking `session`; they flush, the request or actor commits.

Split by subject (records, analysis, actions) and re-exported here, so callers import from `rca.service`.
"""

from rca.service.actions import (
    ActionNotFound,
    action_summary,
    actions_of,
    add_action,
    get_action,
    is_overdue,
    link_project,
    open_action_count,
    update_action,
    weak_plan,
)
from rca.service.analysis import (
    ItemNotFound,
    add_causal_statement,
    add_cause,
    add_team_member,
    add_timeline_entry,
    add_why_chain,
    add_why_step,
    cause_from_why,
    causes_of,
    chains_of,
    remove_causal_statement,
    remove_cause,
    remove_team_member,
    remove_timeline_entry,
    remove_why_chain,
    remove_why_step,
    set_root_cause,
    statements_of,
    team_of,
    timeline_of,
    vague_words,
)
from rca.service.records import (
    AnalysisNotFound,
    ListFilters,
    action_counts,
    change_status,
    create_analysis,
    ensure_editable,
    get_analysis,
    get_policy,
    list_analyses,
    patient_ids_of,
    update_analysis,
    update_policy,
)

__all__ = [
    "ActionNotFound", "AnalysisNotFound", "ItemNotFound", "ListFilters", "action_counts", "action_summary",
    "actions_of", "add_action", "add_causal_statement", "add_cause", "add_team_member", "add_timeline_entry",
    "add_why_chain", "add_why_step", "cause_from_why", "causes_of", "chains_of", "change_status", "create_analysis",
    "ensure_editable", "get_action", "get_analysis", "get_policy", "is_overdue", "link_project", "list_analyses",
    "open_action_count", "patient_ids_of", "remove_causal_statement", "remove_cause", "remove_team_member",
    "remove_timeline_entry", "remove_why_chain", "remove_why_step", "set_root_cause", "statements_of", "team_of",
    "timeline_of", "update_action", "update_analysis", "update_policy", "vague_words", "weak_plan",
]
