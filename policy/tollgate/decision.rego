# tollgate's default decision policy (Rego v1).
#
# The gateway evaluates data.tollgate.decision for every request with the input document of
# policy/input.schema.json and expects the object of policy/decision.schema.json:
#   {"allow": bool, "reasons": [...], "public_reasons": [...], "risk": "low|medium|high", "obligations": {"headers": {...}}}
# Anything else (undefined, an error) is a deny.
#
# The rules, in the order a reviewer reads them (each adds a reason to `deny`; allow iff there is none):
#   1. every route is classified in data.tollgate.actions[route id]; an unknown action is denied;
#   2. a token is needed unless the action is marked public;
#   3. the token carries every scope the action needs;
#   4. tenant scoping: a {tenant} path parameter must equal the token's `tenant` claim;
#   5. partner scoping: if the action lists partners, the caller's partner must be one of them;
#   6. amount limit: if a limit applies, the JSON body's `amount` must be a number not above it;
#   7. dual control: an action with `approvals: N` needs N distinct approvers, none of them the requester.
# The risk tier is the stricter of the route's and the action's: the policy may raise it, never lower it.
package tollgate

import rego.v1

# --- the decision ---------------------------------------------------------------------------------------------

# Default deny: also what the gateway gets if a rule below is undefined for an unexpected input.
default decision := {"allow": false, "reasons": ["default_deny"], "public_reasons": [], "risk": "high"}

decision := {"allow": true, "reasons": [], "public_reasons": [], "risk": risk, "obligations": obligations} if {
	action
	count(deny) == 0
}

decision := {"allow": false, "reasons": sort(deny), "public_reasons": sort(deny & public_reason_codes), "risk": risk} if {
	count(deny) > 0
}

# Reasons the caller may see in its 403 (each is about its own request and something it can act on). The others
# (unknown_action, token_missing) point at a gap in the gateway's configuration: audit only.
public_reason_codes := {
	"missing_scope",
	"tenant_mismatch",
	"partner_not_allowed",
	"amount_invalid",
	"amount_over_limit",
	"approvals_missing",
	"self_approval",
}

# --- 1. classification ----------------------------------------------------------------------------------------

# The action this request performs, from the route id (classification lives in data, not in code).
action := data.tollgate.actions[input.route.id]

deny contains "unknown_action" if not action

# --- 2. authentication ----------------------------------------------------------------------------------------

# A route configured without auth reaches a non-public action: the configuration disagrees with the policy.
deny contains "token_missing" if {
	action
	not input.token
	not action.public
}

# --- 3. scopes ------------------------------------------------------------------------------------------------

deny contains "missing_scope" if {
	some scope in action.scopes
	not scope in input.token.scopes
}

# --- 4. tenant scoping ----------------------------------------------------------------------------------------

# Written as "not equal" rather than `!=`, so that a token without a tenant claim is denied too.
deny contains "tenant_mismatch" if {
	input.request.params.tenant
	not tenant_matches
}

tenant_matches if input.request.params.tenant == input.token.claims.tenant

# --- 5. partner scoping ---------------------------------------------------------------------------------------

# A caller without a partner is not in any list, so it is denied on partner-scoped actions.
deny contains "partner_not_allowed" if {
	action.partners
	not input.token.partner in action.partners
}

# --- 6. amount limit ------------------------------------------------------------------------------------------

# The caller's partner's limit for the action (data.tollgate.partners[p].limits[action name]), else the
# action's default_limit; undefined (no limit) when neither is set.
amount_limit := limit if {
	limit := data.tollgate.partners[input.token.partner].limits[action.name]
} else := action.default_limit

# Under a limit the body must carry a numeric amount: absent (route does not read the body), a string, etc. deny.
deny contains "amount_invalid" if {
	amount_limit
	not is_number(input.request.body.amount)
}

deny contains "amount_over_limit" if {
	is_number(input.request.body.amount)
	input.request.body.amount > amount_limit
}

# --- 7. dual control ------------------------------------------------------------------------------------------

# Who is asking: the token's subject and client, and the actor of a delegated (token-exchange) token.
requesters contains input.token.subject

requesters contains input.token.client_id

requesters contains input.token.claims.act.sub

# Approvers that count: distinct (a set), and never the requester. The gateway has already verified each
# approval token and bound it to this request.
approvers := {a.approver | some a in input.approvals; is_string(a.approver); not a.approver in requesters}

approvals_short if count(approvers) < action.approvals

deny contains "approvals_missing" if approvals_short

# Said explicitly, since "I approved it myself" is the usual way to miss dual control.
deny contains "self_approval" if {
	approvals_short
	some a in input.approvals
	a.approver in requesters
}

# --- risk -----------------------------------------------------------------------------------------------------

tiers := {"low": 0, "medium": 1, "high": 2}

default action_risk := "low"

action_risk := action.risk

# The stricter of the route's and the action's tier; "high" when the route's tier is not one of the three.
default risk := "high"

risk := tier if {
	some tier, n in tiers
	n == max([tiers[input.route.risk], tiers[action_risk]])
}

# --- obligations ----------------------------------------------------------------------------------------------

# Headers the gateway adds to the upstream request of an allowed request.
obligations := {"headers": obligation_headers}

# A dual-control action may name a header carrying the approvers (sorted, comma-separated) to the upstream.
obligation_headers[name] := concat(",", sort(approvers)) if {
	name := action.approvers_header
	count(approvers) > 0
}
