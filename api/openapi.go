package api

import (
	"net/http"
	"strings"
)

// The OpenAPI 3.1 document of the API, written by hand as Go values.
// TestOpenAPIMatchesRoutes checks that it lists exactly the router's routes.

type obj = map[string]any

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

func jsonBody(schema obj) obj {
	return obj{"content": obj{"application/json": obj{"schema": schema}}}
}

func resp(desc string, schema obj) obj {
	r := obj{"description": desc}
	if schema != nil {
		r["content"] = obj{"application/json": obj{"schema": schema}}
	}
	return r
}

func errResp(desc string) obj { return resp(desc, ref("Error")) }

func pathParam(name, desc string) obj {
	return obj{"name": name, "in": "path", "required": true, "description": desc, "schema": obj{"type": "string"}}
}

func queryParam(name, desc string, schema obj) obj {
	return obj{"name": name, "in": "query", "required": false, "description": desc, "schema": schema}
}

func headerParam(name, desc string) obj {
	return obj{"name": name, "in": "header", "required": false, "description": desc, "schema": obj{"type": "string"}}
}

func str(desc string) obj { return obj{"type": "string", "description": desc} }

func integer(desc string) obj { return obj{"type": "integer", "description": desc} }

func array(items obj) obj { return obj{"type": "array", "items": items} }

func objSchema(required []string, props obj) obj {
	o := obj{"type": "object", "additionalProperties": false, "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

var (
	bearer   = []obj{{"bearerAuth": []string{}}}
	noAuth   = []obj{}
	zoneDesc = "zone to act on; default: the server's --default-zone"
)

// mutationResponses are the answers every mutation can give.
func mutationResponses() obj {
	return obj{
		"200": resp("Nothing changed (no commit), or with ?wait=applied: every targeted host applied the change", ref("Mutation")),
		"202": resp("Committed (or proposed as a pull request); the agents apply it asynchronously", ref("Mutation")),
		"400": errResp("Malformed request: the message and details name the field"),
		"401": errResp("Missing, invalid or expired token"),
		"403": errResp("The user's role does not allow this"),
		"404": errResp("Unknown zone, backend or server"),
		"409": errResp("Duplicate name, or an Idempotency-Key still in progress"),
		"412": errResp("If-Match names a revision the change conflicts with, or an unknown one"),
		"413": errResp("Request body too large"),
		"415": errResp("Content-Type is not application/json"),
		"422": errResp("The change would make the desired state invalid (every error in details), or an Idempotency-Key reused for another request"),
		"428": errResp("Strict mode: If-Match is required"),
		"503": errResp("The git remote could not be reached; nothing was committed"),
	}
}

func mutationParams(zoneParam obj) []obj {
	ps := []obj{
		headerParam("If-Match", "the revision (ETag) the change is based on; 412 if what the change touches moved since"),
		headerParam("Idempotency-Key", "replays the first response for a retried request"),
		headerParam(RequestIDHeader, "request id, echoed and recorded in the commit"),
		queryParam("wait", "wait until the targeted hosts applied the change", obj{"type": "string", "enum": []string{"applied"}}),
		queryParam("timeout", "how long ?wait=applied waits (default 30s)", obj{"type": "string", "example": "30s"}),
	}
	if zoneParam != nil {
		ps = append(ps, zoneParam)
	}
	return ps
}

// zonePaths returns the operations that exist both per zone and in the
// single-zone form.
func zonePaths(zoneParam obj, tag string) map[string]obj {
	backend := pathParam("backend", "backend name, e.g. ddc_nodes_http")
	withZone := func(ps ...obj) []obj {
		if zoneParam != nil {
			ps = append(ps, zoneParam)
		}
		return ps
	}
	return map[string]obj{
		"/config": {
			"get": obj{"tags": []string{tag}, "summary": "Desired state at the branch head (zones, backends, nodes); with a zone, that zone's objects",
				"operationId": "getConfig" + tag, "security": bearer, "parameters": withZone(),
				"responses": obj{"200": resp("The desired state", ref("Config")), "401": errResp("Unauthenticated"), "404": errResp("Unknown zone")}},
			"post": obj{"tags": []string{tag}, "summary": "Replace the zone's static servers of a backend (admin)", "operationId": "postConfig" + tag,
				"security": bearer, "parameters": mutationParams(zoneParam), "requestBody": jsonBody(ref("ConfigRequest")), "responses": mutationResponses()},
		},
		"/config/reload": {
			"post": obj{"tags": []string{tag}, "summary": "Bump the zone's reloadGeneration: its agents do one verified reload (operator)", "operationId": "reload" + tag,
				"security": bearer, "parameters": mutationParams(zoneParam), "requestBody": obj{"required": false, "content": obj{"application/json": obj{"schema": ref("ReloadRequest")}}},
				"responses": mutationResponses()},
		},
		"/backends/{backend}/servers": {
			"get": obj{"tags": []string{tag}, "summary": "Servers the zone's hosts run for a backend (node, static, failover)", "operationId": "listServers" + tag,
				"security": bearer, "parameters": withZone(backend),
				"responses": obj{"200": resp("The servers", ref("Servers")), "401": errResp("Unauthenticated"), "404": errResp("Unknown zone or backend"), "409": errResp("The branch head is invalid")}},
			"post": obj{"tags": []string{tag}, "summary": "Add a static server for the zone (operator)", "operationId": "addServer" + tag,
				"security": bearer, "parameters": append(mutationParams(zoneParam), backend), "requestBody": jsonBody(ref("ServerInput")), "responses": mutationResponses()},
		},
		"/backends/{backend}/servers/{name}": {
			"delete": obj{"tags": []string{tag}, "summary": "Remove a static server, or the node of that name (its file) (operator)", "operationId": "deleteServer" + tag,
				"security": bearer, "parameters": append(mutationParams(zoneParam), backend, pathParam("name", "server or node name")), "responses": mutationResponses()},
		},
	}
}

func openAPIDocument(version string) obj {
	paths := obj{
		"/metrics": obj{"get": obj{"tags": []string{"monitoring"}, "summary": "Prometheus metrics (same as /api/v1/metrics)", "operationId": "metricsRoot", "security": noAuth,
			"responses": obj{"200": obj{"description": "Prometheus text format", "content": obj{"text/plain": obj{"schema": obj{"type": "string"}}}}}}},
		"/api/v1/auth/token": obj{"post": obj{"tags": []string{"auth"}, "summary": "Exchange a username and password for a bearer token", "operationId": "token", "security": noAuth,
			"requestBody": jsonBody(ref("TokenRequest")),
			"responses":   obj{"200": resp("A token", ref("TokenResponse")), "400": errResp("Malformed request"), "401": errResp("Unknown user or wrong password"), "429": errResp("Too many attempts from this address")}}},
		"/api/v1/health": obj{"get": obj{"tags": []string{"monitoring"}, "summary": "Liveness and the branch head", "operationId": "health", "security": noAuth,
			"responses": obj{"200": resp("Healthy", ref("Health")), "503": resp("The branch cannot be read", ref("Health"))}}},
		"/api/v1/metrics": obj{"get": obj{"tags": []string{"monitoring"}, "summary": "Prometheus metrics", "operationId": "metrics", "security": noAuth,
			"responses": obj{"200": obj{"description": "Prometheus text format", "content": obj{"text/plain": obj{"schema": obj{"type": "string"}}}}}}},
		"/api/v1/openapi.json": obj{"get": obj{"tags": []string{"monitoring"}, "summary": "This document", "operationId": "openapi", "security": noAuth,
			"responses": obj{"200": resp("OpenAPI 3.1 document", obj{"type": "object"})}}},
		"/api/v1/webhooks/github": obj{"post": obj{"tags": []string{"webhooks"}, "summary": "GitHub webhook (push, pull_request, ping), signed with X-Hub-Signature-256; syncs every agent",
			"operationId": "githubWebhook", "security": noAuth,
			"parameters": []obj{headerParam("X-Hub-Signature-256", "sha256=HMAC of the body"), headerParam("X-GitHub-Event", "event name"), headerParam("X-GitHub-Delivery", "delivery id (duplicates are dropped)")},
			"responses": obj{"200": resp("ping, ignored event or duplicate delivery", ref("WebhookReply")), "202": resp("Agents are being asked to sync", ref("WebhookReply")),
				"401": resp("Bad or missing signature", ref("WebhookReply")), "404": errResp("Not configured"), "413": resp("Payload too large", ref("WebhookReply"))}}},
		"/api/v1/webhooks/generic": obj{"post": obj{"tags": []string{"webhooks"}, "summary": "Generic webhook: X-Signature-256: sha256=HMAC-SHA256(secret, body); optional JSON body {ref|branch, after}",
			"operationId": "genericWebhook", "security": noAuth,
			"parameters": []obj{headerParam("X-Signature-256", "sha256=<hex>"), headerParam("X-Delivery-Id", "optional delivery id for de-duplication")},
			"responses": obj{"200": resp("Ignored or duplicate", ref("WebhookReply")), "202": resp("Agents are being asked to sync", ref("WebhookReply")),
				"400": resp("Body is not JSON", ref("WebhookReply")), "401": resp("Bad or missing signature", ref("WebhookReply")), "404": errResp("Not configured")}}},
		"/api/v1/blockchain/nodes": obj{"get": obj{"tags": []string{"blockchain"}, "summary": "The on-chain node registry, each node with its status in git (admitted, pending PR, not proposed, invalid)",
			"operationId": "blockchainNodes", "security": bearer,
			"responses": obj{"200": resp("The registry", obj{"type": "object"}), "401": errResp("Unauthenticated"), "404": errResp("No node-admission bot configured"), "503": errResp("The chain cannot be read")}}},
		"/api/v1/blockchain/sync": obj{"post": obj{"tags": []string{"blockchain"}, "summary": "Diff the chain registry against the desired state and open or update the missing pull requests (idempotent)",
			"operationId": "blockchainSync", "security": bearer,
			"responses": obj{"200": resp("What the sync did", obj{"type": "object"}), "401": errResp("Unauthenticated"), "403": errResp("Role may not sync"), "404": errResp("No node-admission bot configured"), "503": errResp("The chain cannot be read")}}},
		"/api/v1/zones": obj{"get": obj{"tags": []string{"fleet"}, "summary": "Zones with their hosts and registered agents", "operationId": "zones", "security": bearer,
			"responses": obj{"200": resp("The zones", ref("Zones")), "401": errResp("Unauthenticated")}}},
		"/api/v1/stats": obj{"get": obj{"tags": []string{"fleet"}, "summary": "Every registered agent's status (applied and desired revision, last result, drift)", "operationId": "stats",
			"security": bearer, "parameters": []obj{queryParam("zone", "only this zone's agents", obj{"type": "string"})},
			"responses": obj{"200": resp("Fleet status", ref("Stats")), "401": errResp("Unauthenticated"), "404": errResp("Unknown zone")}}},
		"/api/v1/fleet": obj{"get": obj{"tags": []string{"fleet"}, "summary": "The whole fleet as the status page and `ddc-gitops status` show it: hosts per zone, servers per host, last commits with their rollout, open bot proposals", "operationId": "fleet",
			"security": bearer, "responses": obj{"200": resp("The fleet", ref("Fleet")), "401": errResp("Unauthenticated")}}},
		"/api/v1/revisions/{sha}": obj{"get": obj{"tags": []string{"fleet"}, "summary": "Rollout of one commit: per host applied, failed or pending", "operationId": "revision",
			"security": bearer, "parameters": []obj{pathParam("sha", "full commit hash"), queryParam("zone", "only this zone's hosts", obj{"type": "string"})},
			"responses": obj{"200": resp("The rollout", ref("Rollout")), "400": errResp("Not a commit hash"), "401": errResp("Unauthenticated"), "404": errResp("Not on the branch")}}},
	}
	for p, ops := range zonePaths(queryParam("zone", zoneDesc, obj{"type": "string"}), "default-zone") {
		paths["/api/v1"+p] = ops
	}
	for p, ops := range zonePaths(pathParam("zone", "zone name"), "zones") {
		paths["/api/v1/zones/{zone}"+p] = ops
	}

	detail := objSchema([]string{"message"}, obj{"file": str("desired-state file"), "line": integer(""), "col": integer(""),
		"field": str("field in the file, or in the request"), "message": str("")})
	serverView := objSchema([]string{"name", "address", "port", "weight", "state", "check", "source"}, obj{
		"name": str(""), "address": str(""), "port": integer(""), "weight": integer(""), "maxconn": integer(""),
		"state": obj{"type": "string", "enum": []string{"ready", "drain", "maint"}}, "backup": obj{"type": "boolean"}, "check": obj{"type": "boolean"},
		"source": obj{"type": "string", "enum": []string{SourceNode, SourceStatic, SourceFailover}}, "zone": str("zone of a static server; empty: every zone"),
	})
	hostRollout := objSchema([]string{"host", "zone", "state"}, obj{"host": str(""), "zone": str(""),
		"state":            obj{"type": "string", "enum": []string{HostApplied, HostFailed, HostPending, HostUnreachable}},
		"applied_revision": str(""), "failed_revision": str(""), "last_result": str(""), "last_error": str(""), "error": str("")})
	rolloutSchema := objSchema([]string{"revision", "state", "hosts"}, obj{"revision": str(""), "zone": str(""),
		"state": obj{"type": "string", "enum": []string{RolloutApplied, RolloutFailed, RolloutPending, RolloutNoAgents}},
		"hosts": array(ref("HostRollout")), "not_applied": array(obj{"type": "string"}), "timed_out": obj{"type": "boolean"}})
	agentView := objSchema([]string{"host", "zone", "url", "reachable", "up_to_date"}, obj{"host": str(""), "zone": str(""), "url": str(""),
		"reachable": obj{"type": "boolean"}, "error": str(""), "applied_revision": str(""), "desired_revision": str(""), "failed_revision": str(""),
		"applied_at": obj{"type": "string", "format": "date-time"}, "up_to_date": obj{"type": "boolean"}, "last_result": str(""), "last_error": str(""),
		"drift": array(obj{"type": "string"}), "pending": array(obj{"type": "string"})})
	count := obj{"type": "integer"}
	schemas := obj{
		"Error":         objSchema([]string{"code", "message"}, obj{"code": str("machine-readable error code"), "message": str(""), "details": array(ref("Detail")), "request_id": str("")}),
		"Detail":        detail,
		"TokenRequest":  objSchema([]string{"username", "password"}, obj{"username": str(""), "password": str("")}),
		"TokenResponse": objSchema([]string{"access_token", "token_type", "expires_in"}, obj{"access_token": str("JWT (HS256)"), "token_type": obj{"type": "string", "enum": []string{"Bearer"}}, "expires_in": integer("seconds")}),
		"Health":        objSchema([]string{"status", "version"}, obj{"status": obj{"type": "string", "enum": []string{"healthy", "unhealthy"}}, "version": str(""), "revision": str("branch head"), "error": str("")}),
		"ServerInput": objSchema([]string{"name", "address"}, obj{"name": str("server name"), "address": str("IP or DNS name, optionally IP:PORT"), "port": integer("required unless address has it"),
			"weight": integer("0..256"), "maxconn": integer(""), "state": obj{"type": "string", "enum": []string{"ready", "drain", "maint"}}, "backup": obj{"type": "boolean"}}),
		"ServerView": serverView,
		"Servers": objSchema([]string{"revision", "zone", "backend", "servers"}, obj{"revision": str(""), "zone": str(""), "backend": str(""), "host": str("host whose rendering is shown"),
			"dynamic": obj{"type": "boolean", "description": "runtime add/del server possible"}, "servers": array(ref("ServerView"))}),
		"ConfigRequest": objSchema([]string{"backend", "servers"}, obj{"backend": str(""), "servers": array(ref("ServerInput"))}),
		"ReloadRequest": objSchema(nil, obj{"reason": str("recorded in the commit")}),
		"Config": objSchema([]string{"revision", "fleet", "zones", "backends", "nodes"}, obj{"revision": str(""), "zone": str(""), "fleet": obj{"type": "object"},
			"zones": array(obj{"type": "object"}), "backends": array(obj{"type": "object"}), "nodes": array(obj{"type": "object"}), "invalid": array(ref("Detail"))}),
		"Mutation": obj{"type": "object", "required": []string{"revision", "changed"}, "properties": obj{
			"revision": str("the new commit (or the unchanged head)"), "changed": obj{"type": "boolean"}, "parent": str(""), "files": array(obj{"type": "string"}),
			"status_url": str("rollout of the commit"), "branch": str("PR mode: the proposal's branch"), "pull_request_url": str(""), "pull_request_number": integer(""),
			"server": ref("ServerView"), "removed": obj{"type": "string", "enum": []string{SourceStatic, SourceNode}}, "file": str(""), "note": str(""),
			"reload_generation": integer(""), "rollout": ref("Rollout")}},
		"HostRollout": hostRollout,
		"Rollout":     rolloutSchema,
		"AgentView":   agentView,
		"Fleet": objSchema([]string{"revision", "generated_at", "summary", "zones", "commits"}, obj{"revision": str("branch head"),
			"generated_at": obj{"type": "string", "format": "date-time"},
			"summary":      objSchema(nil, obj{"hosts": count, "up_to_date": count, "failing": count, "stalled": count, "unreachable": count}),
			"zones": array(objSchema([]string{"name", "hosts", "backends"}, obj{"name": str(""),
				"hosts": array(objSchema([]string{"host", "zone", "reachable", "up_to_date", "counts", "vips"}, obj{"host": str(""), "zone": str(""),
					"reachable": obj{"type": "boolean"}, "error": str(""), "applied_revision": str(""), "desired_revision": str(""), "failed_revision": str(""),
					"up_to_date": obj{"type": "boolean"}, "last_result": str(""), "last_error": str(""),
					"last_reconcile": obj{"type": "string", "format": "date-time"}, "applied_at": obj{"type": "string", "format": "date-time"},
					"drift": array(obj{"type": "string"}), "pending": array(obj{"type": "string"}), "counts": obj{"type": "object"},
					"vips":             array(objSchema(nil, obj{"instance": str(""), "address": str(""), "held": obj{"type": "boolean"}})),
					"host_state_error": str("why the host's servers and VIPs could not be read")})),
				"backends": array(objSchema([]string{"name", "servers"}, obj{"name": str(""), "servers": array(objSchema([]string{"name", "states"}, obj{
					"name": str(""), "backup": obj{"type": "boolean"},
					"states": obj{"type": "object", "description": "host -> UP, DOWN, DRAIN, MAINT, NOLB, PENDING...", "additionalProperties": obj{"type": "string"}}}))}))})),
			"commits": array(objSchema([]string{"revision", "subject", "author", "time", "hosts"}, obj{"revision": str(""), "subject": str(""), "author": str(""),
				"time":  obj{"type": "string", "format": "date-time"},
				"hosts": obj{"type": "object", "description": "host -> applied, failed or pending", "additionalProperties": obj{"type": "string"}}})),
			"proposals":       array(objSchema([]string{"node", "pub_key"}, obj{"node": str(""), "pub_key": str(""), "number": integer(""), "url": str(""), "title": str("")})),
			"proposals_error": str("why the bot's proposals could not be read")}),
		"Stats": objSchema([]string{"revision", "summary", "agents"}, obj{"revision": str("branch head"), "zone": str(""),
			"summary": objSchema(nil, obj{"agents": count, "reachable": count, "up_to_date": count, "failing": count, "with_drift": count, "unreachable": count}),
			"agents":  array(ref("AgentView"))}),
		"Zones": objSchema([]string{"revision", "zones"}, obj{"revision": str(""), "default_zone": str(""), "zones": array(objSchema(nil, obj{
			"name": str(""), "hosts": array(obj{"type": "string"}), "agents": array(obj{"type": "string"}), "reload_generation": integer("")}))}),
		"WebhookReply": objSchema([]string{"status"}, obj{"status": obj{"type": "string", "enum": []string{"accepted", "pong", "duplicate", "ignored", "error"}}, "reason": str(""), "delivery": str("")}),
	}
	addContainerPaths(paths, schemas)
	addRolloutPaths(paths, schemas)
	return obj{
		"openapi": "3.1.0",
		"info": obj{"title": "ddc-gitops API", "version": version,
			"description": strings.Join([]string{
				"Changes to the fleet's desired state become validated git commits on the fleet's branch (or pull requests).",
				"Mutations answer 202 with the new revision; GET /api/v1/revisions/{sha} follows its rollout.",
				"Send the ETag of a read as If-Match to refuse stale writes, and an Idempotency-Key to retry safely.",
			}, " ")},
		"servers": []obj{{"url": "/"}},
		"paths":   paths,
		"components": obj{
			"schemas":         schemas,
			"securitySchemes": obj{"bearerAuth": obj{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
		},
	}
}

func (s *Server) getOpenAPI(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, openAPIDocument(s.cfg.Version))
	return nil
}
