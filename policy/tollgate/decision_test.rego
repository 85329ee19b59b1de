# Unit tests of decision.rego, run with `node dist/cli.js policy test policy/` (also part of `npm test`).
# They use the shipped data (data.yaml) unless a test replaces part of it with `with data.tollgate.… as`.
package tollgate

import rego.v1

# --- fixtures -------------------------------------------------------------------------------------------------

# An agent of partner acme, working for tenant acme, with every scope the example routes need.
agent := {
	"client_id": "crm-agent",
	"subject": "crm-agent",
	"issuer": "https://as.example",
	"scopes": ["orders:read", "orders:write", "payments:write"],
	"partner": "acme",
	"claims": {"sub": "crm-agent", "client_id": "crm-agent", "tenant": "acme", "iss": "https://as.example"},
}

env := {"time_ns": 1790000000000000000, "instance": "gw-1"}

orders_read(token) := {
	"request": {
		"id": "req-1", "method": "GET", "path": "/v1/tenants/acme/orders/42",
		"params": {"tenant": "acme", "id": "42"}, "query": {}, "headers": {"x-agent-id": "crm-agent"},
	},
	"token": token,
	"approvals": [],
	"route": {"id": "orders-read", "risk": "low", "upstream": "orders"},
	"environment": env,
}

# POST /v1/tenants/acme/payments with a JSON body and approval tokens from `approvers`.
payment(token, body, approvers) := {
	"request": {
		"id": "req-2", "method": "POST", "path": "/v1/tenants/acme/payments",
		"params": {"tenant": "acme"}, "query": {}, "headers": {},
		"body": body, "body_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
	},
	"token": token,
	"approvals": [{"approver": a, "issuer": "https://approvals.example", "claims": {"sub": a}} | some a in approvers],
	"route": {"id": "payments-create", "risk": "high", "upstream": "payments"},
	"environment": env,
}

pay(amount) := payment(agent, {"amount": amount, "currency": "EUR"}, ["alice", "bob"])

as_partner(p) := object.union(agent, {"partner": p})

no_partner := object.remove(agent, {"partner"})

# A deny decision with these reasons (public_reasons are the public subset).
denied(reasons, public, tier) := {"allow": false, "reasons": reasons, "public_reasons": public, "risk": tier}

allowed(tier, headers) := {"allow": true, "reasons": [], "public_reasons": [], "risk": tier, "obligations": {"headers": headers}}

# --- allow ----------------------------------------------------------------------------------------------------

test_allows_orders_read if {
	inp := orders_read(agent)
	decision == allowed("low", {}) with input as inp
}

test_allows_orders_list if {
	inp := object.union(orders_read(agent), {
		"request": {"path": "/v1/tenants/acme/orders", "params": {"tenant": "acme"}, "query": {"limit": ["10"]}},
		"route": {"id": "orders-list"},
	})
	decision == allowed("low", {}) with input as inp
}

test_allows_orders_create_without_amount_checks if {
	# orders.create has no limit: the body is not looked at (here it has no amount at all)
	inp := object.union(orders_read(agent), {
		"request": {"method": "POST", "path": "/v1/tenants/acme/orders", "body": {"sku": "A-1", "amount": "n/a"}},
		"route": {"id": "orders-create", "risk": "medium"},
	})
	decision == allowed("medium", {}) with input as inp
}

test_allows_payment_with_two_approvers if {
	inp := pay(1200)
	decision == allowed("high", {"x-approved-by": "alice,bob"}) with input as inp
}

# --- 1. classification ----------------------------------------------------------------------------------------

test_unknown_action_denied if {
	inp := object.union(orders_read(agent), {"route": {"id": "orders-delete", "risk": "medium"}})
	decision == denied(["unknown_action"], [], "medium") with input as inp
}

test_action_is_looked_up_by_route_id if {
	action.name == "payments.create" with input as pay(1)
	not action with input as {"route": {"id": "nope"}}
}

test_missing_route_denied if {
	decision == denied(["unknown_action"], [], "high") with input as {}
}

test_non_object_input_denied if {
	decision == denied(["unknown_action"], [], "high") with input as "allow me"
}

# --- 2. authentication ----------------------------------------------------------------------------------------

test_public_route_needs_no_token if {
	inp := {
		"request": {"id": "req-3", "method": "GET", "path": "/public/logo.png", "params": {}, "query": {}, "headers": {}},
		"approvals": [],
		"route": {"id": "public", "risk": "low", "upstream": "orders"},
		"environment": env,
	}
	decision == allowed("low", {}) with input as inp
}

test_token_missing_denied_on_non_public_action if {
	# an orders route configured with `auth: false` by mistake: token_missing is internal, the rest is public
	inp := object.remove(orders_read(agent), {"token"})
	decision == denied(["missing_scope", "tenant_mismatch", "token_missing"], ["missing_scope", "tenant_mismatch"], "low") with input as inp
}

test_token_missing_alone if {
	inp := {"route": {"id": "orders-read", "risk": "low"}, "request": {"method": "GET", "params": {}}}
	deny == {"token_missing"} with input as inp with data.tollgate.actions as {"orders-read": {"name": "x", "risk": "low"}}
}

# --- 3. scopes ------------------------------------------------------------------------------------------------

test_missing_scope_denied if {
	inp := orders_read(object.union(agent, {"scopes": ["orders:write", "payments:write"]}))
	decision == denied(["missing_scope"], ["missing_scope"], "low") with input as inp
}

test_every_scope_needed if {
	acts := {"orders-read": {"name": "x", "risk": "low", "scopes": ["orders:read", "orders:audit"]}}
	deny == {"missing_scope"} with input as orders_read(agent) with data.tollgate.actions as acts
}

# --- 4. tenant scoping ----------------------------------------------------------------------------------------

test_tenant_mismatch_denied if {
	inp := orders_read(object.union(agent, {"claims": {"tenant": "globex"}}))
	decision == denied(["tenant_mismatch"], ["tenant_mismatch"], "low") with input as inp
}

test_tenant_claim_absent_denied if {
	tok := object.union(object.remove(agent, {"claims"}), {"claims": object.remove(agent.claims, {"tenant"})})
	inp := orders_read(tok)
	decision == denied(["tenant_mismatch"], ["tenant_mismatch"], "low") with input as inp
}

test_tenant_match if {
	tenant_matches with input as orders_read(agent)
}

test_no_tenant_parameter_no_tenant_check if {
	base := orders_read(object.remove(agent, {"claims"}))
	inp := object.union(object.remove(base, {"request"}), {"request": {"params": {"id": "42"}}})
	not "tenant_mismatch" in deny with input as inp
	decision.allow with input as inp
}

# --- 5. partner scoping ---------------------------------------------------------------------------------------

test_partner_not_allowed_denied if {
	inp := payment(as_partner("umbrella"), {"amount": 10}, ["alice", "bob"])
	decision == denied(["partner_not_allowed"], ["partner_not_allowed"], "high") with input as inp
}

test_no_partner_denied_on_partner_scoped_action if {
	inp := payment(no_partner, {"amount": 10}, ["alice", "bob"])
	decision == denied(["partner_not_allowed"], ["partner_not_allowed"], "high") with input as inp
}

test_no_partner_fine_without_partner_list if {
	decision == allowed("low", {}) with input as orders_read(no_partner)
}

# --- 6. amount limit ------------------------------------------------------------------------------------------

test_amount_over_partner_limit_denied if {
	# acme may pay up to 50000
	decision == denied(["amount_over_limit"], ["amount_over_limit"], "high") with input as pay(50001)
}

test_amount_at_limit_allowed if {
	decision.allow with input as pay(50000)
}

test_partner_limit_above_default if {
	# globex: 2500 replaces the default 1000
	amount_limit == 2500 with input as payment(as_partner("globex"), {"amount": 2000}, ["alice", "bob"])
	decision.allow with input as payment(as_partner("globex"), {"amount": 2000}, ["alice", "bob"])
	decision.reasons == ["amount_over_limit"] with input as payment(as_partner("globex"), {"amount": 2501}, ["alice", "bob"])
}

test_default_limit_without_partner_override if {
	# initech has no limit of its own: the action's default_limit (1000) applies
	amount_limit == 1000 with input as payment(as_partner("initech"), {"amount": 1}, [])
	decision.allow with input as payment(as_partner("initech"), {"amount": 1000}, ["alice", "bob"])
	decision.reasons == ["amount_over_limit"] with input as payment(as_partner("initech"), {"amount": 1000.5}, ["alice", "bob"])
}

test_partner_limit_below_default if {
	acts := {"payments-create": {"name": "pay", "risk": "low", "default_limit": 100}}
	partners := {"acme": {"limits": {"pay": 10}}, "globex": {"limits": {"other": 1}}}
	amount_limit == 10 with input as pay(50) with data.tollgate.actions as acts with data.tollgate.partners as partners
	deny == {"amount_over_limit"} with input as pay(50) with data.tollgate.actions as acts with data.tollgate.partners as partners
	deny == set() with input as payment(as_partner("globex"), {"amount": 50}, []) with data.tollgate.actions as acts with data.tollgate.partners as partners
}

test_no_limit_without_default_or_override if {
	acts := {"payments-create": {"name": "pay", "risk": "low"}}
	not amount_limit with input as pay(50) with data.tollgate.actions as acts
	deny == set() with input as payment(agent, {"amount": "lots"}, []) with data.tollgate.actions as acts
}

test_amount_string_denied if {
	inp := payment(agent, {"amount": "1200"}, ["alice", "bob"])
	decision == denied(["amount_invalid"], ["amount_invalid"], "high") with input as inp
}

test_amount_missing_denied if {
	decision.reasons == ["amount_invalid"] with input as payment(agent, {"currency": "EUR"}, ["alice", "bob"])
	decision.reasons == ["amount_invalid"] with input as payment(agent, [1200], ["alice", "bob"])
	decision.reasons == ["amount_invalid"] with input as object.remove(pay(1), {"request"})
}

# --- 7. dual control ------------------------------------------------------------------------------------------

test_no_approvals_denied if {
	inp := payment(agent, {"amount": 10}, [])
	decision == denied(["approvals_missing"], ["approvals_missing"], "high") with input as inp
}

test_one_approval_denied if {
	decision.reasons == ["approvals_missing"] with input as payment(agent, {"amount": 10}, ["alice"])
}

test_approvers_must_be_distinct if {
	inp := payment(agent, {"amount": 10}, ["alice", "alice"])
	approvers == {"alice"} with input as inp
	decision.reasons == ["approvals_missing"] with input as inp
}

test_requester_subject_cannot_approve if {
	inp := payment(agent, {"amount": 10}, ["alice", "crm-agent"])
	decision == denied(["approvals_missing", "self_approval"], ["approvals_missing", "self_approval"], "high") with input as inp
}

test_requester_client_id_cannot_approve if {
	# a token whose subject (a user) differs from its client: neither may approve
	tok := object.union(agent, {"subject": "user-7", "claims": {"sub": "user-7"}})
	requesters == {"user-7", "crm-agent"} with input as payment(tok, {"amount": 10}, [])
	decision.reasons == ["approvals_missing", "self_approval"] with input as payment(tok, {"amount": 10}, ["alice", "crm-agent"])
	decision.reasons == ["approvals_missing", "self_approval"] with input as payment(tok, {"amount": 10}, ["alice", "user-7"])
}

test_delegating_actor_cannot_approve if {
	tok := object.union(agent, {"claims": {"act": {"sub": "user-42"}}})
	requesters == {"crm-agent", "user-42"} with input as payment(tok, {"amount": 10}, [])
	decision.reasons == ["approvals_missing", "self_approval"] with input as payment(tok, {"amount": 10}, ["alice", "user-42"])
}

test_self_approval_ignored_when_enough_others if {
	inp := payment(agent, {"amount": 10}, ["crm-agent", "bob", "alice"])
	decision == allowed("high", {"x-approved-by": "alice,bob"}) with input as inp
}

test_approvals_not_needed_without_dual_control if {
	not approvals_short with input as orders_read(agent)
	decision.allow with input as orders_read(agent)
}

test_malformed_approvals_do_not_count if {
	inp := object.union(pay(10), {"approvals": [{"approver": 7}, {"issuer": "x"}, "bob", {"approver": "alice"}]})
	approvers == {"alice"} with input as inp
	decision.reasons == ["approvals_missing"] with input as inp
}

# --- risk -----------------------------------------------------------------------------------------------------

test_risk_raised_by_action if {
	# the payments route configured as low risk: the action makes it high
	inp := object.union(pay(10), {"route": {"risk": "low"}})
	decision.risk == "high" with input as inp
}

test_risk_never_lowered if {
	inp := object.union(orders_read(agent), {"route": {"risk": "high"}})
	decision == allowed("high", {}) with input as inp
}

test_risk_medium_action_on_low_route if {
	inp := object.union(orders_read(agent), {"request": {"method": "POST"}, "route": {"id": "orders-create"}})
	decision.risk == "medium" with input as inp
}

test_risk_of_unknown_action_is_the_routes if {
	action_risk == "low" with input as {"route": {"id": "nope", "risk": "medium"}}
	decision.risk == "medium" with input as {"route": {"id": "nope", "risk": "medium"}}
}

test_risk_high_for_unknown_tier if {
	decision.risk == "high" with input as object.union(orders_read(agent), {"route": {"risk": "extreme"}})
}

# --- decision shape -------------------------------------------------------------------------------------------

test_reasons_sorted_and_public_subset if {
	inp := object.union(payment(as_partner("umbrella"), {"amount": "x"}, ["crm-agent"]), {
		"route": {"id": "payments-create"},
		"token": {"scopes": [], "claims": {"tenant": "globex"}},
	})
	d := decision with input as inp
	d.reasons == ["amount_invalid", "approvals_missing", "missing_scope", "partner_not_allowed", "self_approval", "tenant_mismatch"]
	d.public_reasons == d.reasons
}

test_public_reasons_exclude_internal if {
	not "unknown_action" in public_reason_codes
	not "token_missing" in public_reason_codes
	every r in public_reason_codes {
		r in {"missing_scope", "tenant_mismatch", "partner_not_allowed", "amount_invalid", "amount_over_limit", "approvals_missing", "self_approval"}
	}
}

test_obligations_only_on_allow if {
	d := decision with input as payment(agent, {"amount": 10}, ["alice"])
	not d.allow
	not d.obligations
}

# --- obligations ----------------------------------------------------------------------------------------------

test_approvers_header_sorted if {
	inp := payment(agent, {"amount": 10}, ["carol", "alice", "bob"])
	decision.obligations == {"headers": {"x-approved-by": "alice,bob,carol"}} with input as inp
}

test_no_header_without_approvers_header if {
	acts := {"payments-create": {"name": "pay", "risk": "high", "approvals": 1}}
	decision == allowed("high", {}) with input as pay(10) with data.tollgate.actions as acts
}

test_no_obligation_headers_without_approvers if {
	obligation_headers == {} with input as orders_read(agent)
}
