// Package rules embeds the fleet's Prometheus alert rules
// (ddc-gitops.rules.yml), so the lab loads exactly the committed file.
package rules

import _ "embed"

// FileName is the rule file's name.
const FileName = "ddc-gitops.rules.yml"

// File is ddc-gitops.rules.yml.
//
//go:embed ddc-gitops.rules.yml
var File []byte
