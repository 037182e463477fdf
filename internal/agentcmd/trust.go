package agentcmd

import (
	"errors"

	"github.com/ddc-gitops/ddc-gitops/internal/cmdkit"
	"github.com/ddc-gitops/ddc-gitops/reconciler"
	"github.com/ddc-gitops/ddc-gitops/trust"
)

// loadTrustPolicy reads the agent's --trust-policy (nil without one).
func loadTrustPolicy(f agentFlags) (*trust.Verifier, error) {
	if f.trustPolicy == "" {
		return nil, nil
	}
	if f.watch != "" {
		return nil, cmdkit.UsageError{Err: errors.New("--trust-policy verifies git commits: it needs --repo, not --watch")}
	}
	p, err := trust.Load(f.trustPolicy)
	if err != nil {
		return nil, err
	}
	return trust.NewVerifier(p), nil
}

// trusted guards the fetcher of the roles without a trust step of their
// own (DNS, containers) with the policy, if there is one.
func trusted(src reconciler.Fetcher, v *trust.Verifier) reconciler.Fetcher {
	if v == nil {
		return src
	}
	return &reconciler.TrustedSource{Source: src, Verifier: v}
}
