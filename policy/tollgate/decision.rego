# tollgate's default decision policy (Rego v1). The gateway asks for data.tollgate.decision and expects an
# object: {"allow": bool, "reasons": [string], "risk": "low" | "medium" | "high"}. Anything else is deny.
#
# What it checks, in the order a reviewer reads it:
#   1. every route is classified in data.tollgate.actions; an unknown action is denied;
#   2. the token carries every scope the action needs;
#   3. tenant scoping: a {tenant} path parameter must equal the token's tenant claim;
#   4. partner scoping: the caller's partner must be allowed for the action;
#   5. amount limits: a JSON body amount must not exceed the partner's limit for the action (or the default).
# The risk tier is the stricter of the route's and the action's: a policy may raise it, never lower it.
package tollgate

import rego.v1

default decision := {"allow": false, "reasons": ["default_deny"], "risk": "high"}

decision := {"allow": true, "reasons": [], "risk": risk} if {
	action
	count(deny) == 0
}

decision := {"allow": false, "reasons": sort([r | some r in deny]), "risk": risk} if {
	count(deny) > 0
}

# The action this request performs, from the route id (classification lives in data, not in code).
action := data.tollgate.actions[input.route.id]

deny contains "unknown_action" if not action

deny contains "missing_scope" if {
	some scope in action.scopes
	not scope in input.token.scopes
}

deny contains "tenant_mismatch" if {
	tenant := input.request.params.tenant
	tenant != input.token.claims.tenant
}

deny contains "partner_not_allowed" if {
	action.partners
	not input.token.partner in action.partners
}

deny contains "amount_over_limit" if {
	amount := input.request.body.amount
	amount > amount_limit
}

deny contains "amount_invalid" if {
	amount := input.request.body.amount
	not is_number(amount)
}

amount_limit := limit if {
	limit := data.tollgate.partners[input.token.partner].limits[action.name]
} else := action.default_limit

# Risk tiers are ordered; the effective tier is the highest of the route's and the action's.
tiers := {"low": 0, "medium": 1, "high": 2}

risk := tier if {
	some tier, n in tiers
	n == max([tiers[input.route.risk], tiers[action_risk]])
}

default action_risk := "low"

action_risk := action.risk
