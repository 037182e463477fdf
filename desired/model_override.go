package desired

import "time"

// KindOverride is the kind of overrides/<name>.yaml.
const KindOverride = "Override"

// OverridesDir holds one Override file per timed override.
const OverridesDir = "overrides"

// MaxOverrideLife bounds an override: its until may be at most this long
// after the time of the commit that carries it (the committer time; the API
// checks it against the time it writes). It is the one place the bound is
// set (docs/rollouts.md, "Overrides").
const MaxOverrideLife = 7 * 24 * time.Hour

// Override states a server may be held in.
const (
	OverrideDrain = "drain"
	OverrideMaint = "maint"
)

// Override is overrides/<name>.yaml: an on-call action with an end. Until
// it expires, the agents of its scope run its servers drained, in
// maintenance or at another weight, and keep the servers of its frozen
// backends as they run them; after, the base state returns by itself.
type Override struct {
	Kind string `yaml:"kind"`
	Name string `yaml:"name"`
	// Until is when the override ends (RFC 3339); required.
	Until string `yaml:"until"`
	// Reason says why (shown in status and commit messages); required.
	Reason string `yaml:"reason"`
	// Zones and Hosts narrow the override to the hosts of those zones and
	// to those hosts; empty means every host.
	Zones []string `yaml:"zones"`
	Hosts []string `yaml:"hosts"`
	// Servers are the server actions.
	Servers []OverrideServer `yaml:"servers"`
	// Freeze lists backends whose servers keep what each host runs: no
	// server change is applied to them while the override lasts.
	Freeze []string `yaml:"freeze"`

	File string `yaml:"-"`
	// UntilTime is Until parsed (set by validation).
	UntilTime time.Time `yaml:"-"`
}

// OverrideServer is one server action of an override: State (drain or
// maint), or Weight, or both.
type OverrideServer struct {
	Backend string `yaml:"backend"`
	Server  string `yaml:"server"`
	State   string `yaml:"state"`
	Weight  *int   `yaml:"weight"`
}

// FreezeWindow is one entry of fleet.yaml's freeze: from From to Until the
// agents apply only commits whose head carries an `Emergency: yes` trailer.
type FreezeWindow struct {
	Name   string `yaml:"name"`
	From   string `yaml:"from"`
	Until  string `yaml:"until"`
	Reason string `yaml:"reason"`

	// FromTime and UntilTime are From and Until parsed (set by validation).
	FromTime  time.Time `yaml:"-"`
	UntilTime time.Time `yaml:"-"`
}
