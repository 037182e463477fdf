// Package agentcmd is the agent's command line: `ddc-gitops agent` in the
// ddc-gitops binary (internal/cli) and the whole of the lean
// ddc-gitops-agent binary (cmd/ddc-gitops-agent), which links this package
// and nothing of the API, the bot or the lab.
package agentcmd
