package api

// addRevertPaths adds GET /rollout/reverts and its schemas to the OpenAPI
// document.
func addRevertPaths(paths, schemas obj) {
	paths["/api/v1/rollout/reverts"] = obj{"get": obj{"tags": []string{"fleet"},
		"summary":     "Automatic revert proposals: per revision a host quarantined, the revert/<sha> branch, its pull request, or why none was made",
		"operationId": "listReverts", "security": bearer,
		"responses": obj{"200": resp("The proposals, newest first", ref("RevertList")), "401": errResp("Unauthenticated")}}}
	date := obj{"type": "string", "format": "date-time"}
	num := obj{"type": "number"}
	strList := array(obj{"type": "string"})
	schemas["RevertList"] = objSchema([]string{"enabled", "reverts"}, obj{
		"enabled": obj{"type": "boolean", "description": "whether this API proposes reverts (api --propose-reverts)"},
		"reverts": array(ref("RevertProposal"))})
	schemas["RevertProposal"] = objSchema([]string{"revision", "branch", "state", "hosts", "first_seen", "updated_at"}, obj{
		"revision": str("the quarantined commit"), "subject": str(""), "author": str("the reverted commit's author, Name <email>"),
		"branch": str("revert/<revision>"),
		"state": obj{"type": "string", "enum": []string{RevertProposed, RevertUpToDate, RevertConflict, RevertInvalid, RevertNotInBranch,
			RevertAlreadyReverted, RevertSkipped, RevertFailed}},
		"detail": str("why, for every state but proposed and up_to_date"),
		"hosts": array(objSchema([]string{"host", "zone", "at", "reason"}, obj{"host": str(""), "zone": str(""), "at": date, "reason": str(""),
			"last_good": str("the host's last good revision"),
			"evidence": array(objSchema([]string{"signal", "subject", "before", "after", "threshold", "tripped"}, obj{
				"signal": str("up_ratio, http_5xx_rate, conn_error_rate, vip_answers, frontend_answers"), "subject": str("backend, frontend or VIP"),
				"before": num, "after": num, "threshold": num, "tripped": obj{"type": "boolean"}}))})),
		"base":   str("the branch head the revert was computed on"),
		"commit": str("the revert commit at the head of the branch"),
		"files":  strList, "conflicts": strList,
		"pull_request": objSchema(nil, obj{"number": integer(""), "url": str(""), "state": str(""), "merged": obj{"type": "boolean"},
			"head": str(""), "base": str(""), "headSha": str(""), "title": str(""), "body": str(""), "labels": strList}),
		"first_seen": date, "updated_at": date,
	})
}
