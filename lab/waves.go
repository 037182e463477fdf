package lab

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// Rollout waves (docs/rollouts.md) need every agent to read the status of
// the agents of earlier waves at the URL git lists for their host. The
// lab's agents listen on uplink addresses of their own (agentAddr), not on
// their hosts' addresses, so the lab writes each host's agentURL into the
// zone files it seeds.

// hostAgentAddr is the uplink address of the agent of HAProxy host name:
// the i-th HAProxy host of the topology gets agentAddr(i).
func (l *lab) hostAgentAddr(name string) (netip.Addr, error) {
	i := 0
	for _, m := range l.plan.machines {
		if m.host == nil {
			continue
		}
		if m.name == name {
			return agentAddr(i)
		}
		i++
	}
	return netip.Addr{}, fmt.Errorf("lab: %s is not an HAProxy host of the topology", name)
}

// setAgentURLs writes agentURL: http://<agent address>:AgentPort for every
// HAProxy host that has none into the zone files under seed.
func (l *lab) setAgentURLs(seed string, f *desired.Fleet) error {
	for _, z := range f.Zones {
		urls := map[string]string{}
		for _, h := range z.Hosts {
			if h.AgentURL != "" {
				continue
			}
			a, err := l.hostAgentAddr(h.Name)
			if err != nil {
				return err
			}
			urls[h.Name] = "http://" + net.JoinHostPort(a.String(), strconv.Itoa(AgentPort))
		}
		if len(urls) == 0 {
			continue
		}
		if err := setHostAgentURLs(filepath.Join(seed, filepath.FromSlash(z.File)), urls); err != nil {
			return err
		}
	}
	return nil
}

// setHostAgentURLs sets agentURL on the hosts of the zone file at path
// named in urls, keeping the file's comments.
func setHostAgentURLs(path string, urls map[string]string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("lab: reading %s: %w", path, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("lab: parsing %s: %w", path, err)
	}
	if len(doc.Content) != 1 {
		return fmt.Errorf("lab: %s: not one YAML document", path)
	}
	hosts := mappingValue(doc.Content[0], "hosts")
	if hosts == nil || hosts.Kind != yaml.SequenceNode {
		return fmt.Errorf("lab: %s: no hosts list", path)
	}
	for _, h := range hosts.Content {
		name := mappingValue(h, "name")
		if name == nil {
			continue
		}
		u, ok := urls[name.Value]
		if !ok {
			continue
		}
		h.Content = append(h.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "agentURL"},
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: u, LineComment: "lab: where the other agents read this host's status (rollout waves)"})
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return fmt.Errorf("lab: writing %s: %w", path, err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("lab: writing %s: %w", path, err)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		return fmt.Errorf("lab: writing %s: %w", path, err)
	}
	return nil
}
