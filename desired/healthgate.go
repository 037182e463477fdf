package desired

import "time"

// HealthGate is fleet.yaml's healthGate block: after an agent applies a
// revision that changed its host, it watches its own data plane for Window
// and rolls the revision back (and quarantines it) when a threshold is
// crossed (docs/rollouts.md, "Health gate"). The rule that turns these
// numbers into a verdict lives in one place, reconciler.GateVerdict.
type HealthGate struct {
	// Enabled turns the gate on (default true). Off, every applied revision
	// is at once the host's last good revision.
	Enabled *bool `yaml:"enabled"`
	// Window is how long the gate watches after an apply (default 30s).
	Window Duration `yaml:"window"`
	// SampleInterval is how often the agent reads HAProxy's stats and
	// probes its frontends, always, so a "before" exists at apply time
	// (default 2s; at most half the window).
	SampleInterval Duration `yaml:"sampleInterval"`
	// ProbeTimeout bounds one TCP connect to a frontend or VIP (default 1s;
	// at most the sample interval).
	ProbeTimeout Duration       `yaml:"probeTimeout"`
	Thresholds   GateThresholds `yaml:"thresholds"`
}

// GateThresholds say when a signal trips the gate. Ratios are whole percents.
type GateThresholds struct {
	// A backend trips when its UP ratio (servers UP among those not in
	// maintenance) falls by more than UpDropPercent points from before AND
	// is below UpMinPercent (defaults 25 and 75).
	UpDropPercent int `yaml:"upDropPercent"`
	UpMinPercent  int `yaml:"upMinPercent"`
	// An error rate (a frontend's 5xx responses per request, a backend's
	// connection errors per connection) trips when, over the window so far,
	// it is more than ErrorRateFactor times its rate before AND at least
	// ErrorRateMinPercent AND counts at least MinErrors errors (defaults 2,
	// 5 and 10), so one stray error after none never trips.
	ErrorRateFactor     int `yaml:"errorRateFactor"`
	ErrorRateMinPercent int `yaml:"errorRateMinPercent"`
	MinErrors           int `yaml:"minErrors"`
	// ProbeFailures is how many consecutive failed TCP connects to a
	// frontend (or a VIP this host holds) that answered before trip the
	// gate (default 2).
	ProbeFailures int `yaml:"probeFailures"`
}

// Health gate defaults and bounds.
const (
	DefaultGateWindow              = 30 * time.Second
	DefaultGateSampleInterval      = 2 * time.Second
	DefaultGateProbeTimeout        = time.Second
	DefaultGateUpDropPercent       = 25
	DefaultGateUpMinPercent        = 75
	DefaultGateErrorRateFactor     = 2
	DefaultGateErrorRateMinPercent = 5
	DefaultGateMinErrors           = 10
	DefaultGateProbeFailures       = 2

	MinGateWindow         = time.Second
	MaxGateWindow         = time.Hour
	MinGateSampleInterval = 100 * time.Millisecond
	MinGateProbeTimeout   = 10 * time.Millisecond
)

// On reports whether the gate watches applied revisions.
func (g *HealthGate) On() bool { return g.Enabled == nil || *g.Enabled }

// setHealthGateDefaults fills healthGate's unset fields (an explicit 0 is
// kept for validation to report).
// DefaultHealthGate is the health gate of a fleet.yaml that says nothing
// about it (what an agent uses before it loaded any revision).
func DefaultHealthGate() HealthGate {
	var f Fleet
	setHealthGateDefaults(&f)
	return f.HealthGate
}

func setHealthGateDefaults(f *Fleet) {
	g := &f.HealthGate
	src := f.Source
	const file = FleetFile
	setBool(&g.Enabled, true)
	setDurAt(&g.Window, DefaultGateWindow, src, file, "healthGate.window")
	setDurAt(&g.SampleInterval, DefaultGateSampleInterval, src, file, "healthGate.sampleInterval")
	setDurAt(&g.ProbeTimeout, DefaultGateProbeTimeout, src, file, "healthGate.probeTimeout")
	t := &g.Thresholds
	setIntAt(&t.UpDropPercent, DefaultGateUpDropPercent, src, file, "healthGate.thresholds.upDropPercent")
	setIntAt(&t.UpMinPercent, DefaultGateUpMinPercent, src, file, "healthGate.thresholds.upMinPercent")
	setIntAt(&t.ErrorRateFactor, DefaultGateErrorRateFactor, src, file, "healthGate.thresholds.errorRateFactor")
	setIntAt(&t.ErrorRateMinPercent, DefaultGateErrorRateMinPercent, src, file, "healthGate.thresholds.errorRateMinPercent")
	setIntAt(&t.MinErrors, DefaultGateMinErrors, src, file, "healthGate.thresholds.minErrors")
	setIntAt(&t.ProbeFailures, DefaultGateProbeFailures, src, file, "healthGate.thresholds.probeFailures")
}

// healthGate checks fleet.yaml's healthGate block.
func (v *validator) healthGate() {
	if v.broken.fleet {
		return
	}
	g := &v.f.HealthGate
	const file = FleetFile
	durIn := func(field string, d Duration, lo, hi time.Duration) bool {
		if d.D() < lo || d.D() > hi {
			v.errorf(file, field, "%s %s is out of range %s..%s", key(field), d.D(), lo, hi)
			return false
		}
		return v.dur(file, field, d)
	}
	winOK := durIn("healthGate.window", g.Window, MinGateWindow, MaxGateWindow)
	if durIn("healthGate.sampleInterval", g.SampleInterval, MinGateSampleInterval, MaxGateWindow/2) && winOK && g.SampleInterval > g.Window/2 {
		v.errorf(file, "healthGate.sampleInterval", "sampleInterval %s is more than half the window %s: the gate needs at least two samples in its window", g.SampleInterval.D(), g.Window.D())
	}
	if durIn("healthGate.probeTimeout", g.ProbeTimeout, MinGateProbeTimeout, MaxGateWindow/2) && g.SampleInterval > 0 && g.ProbeTimeout > g.SampleInterval {
		v.errorf(file, "healthGate.probeTimeout", "probeTimeout %s is longer than sampleInterval %s", g.ProbeTimeout.D(), g.SampleInterval.D())
	}
	t := &g.Thresholds
	const p = "healthGate.thresholds."
	v.intRange(file, p+"upDropPercent", t.UpDropPercent, 1, 100)
	if t.UpMinPercent < 0 || t.UpMinPercent > 100 {
		v.errorf(file, p+"upMinPercent", "upMinPercent %d is out of range 0..100", t.UpMinPercent)
	}
	v.intRange(file, p+"errorRateFactor", t.ErrorRateFactor, 1, 1000)
	v.intRange(file, p+"errorRateMinPercent", t.ErrorRateMinPercent, 1, 100)
	v.intRange(file, p+"minErrors", t.MinErrors, 1, 1_000_000)
	v.intRange(file, p+"probeFailures", t.ProbeFailures, 1, 100)
}
