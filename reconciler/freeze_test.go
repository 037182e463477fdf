package reconciler

import (
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

func TestFreezeDecision(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	windows := []desired.FreezeWindow{{Name: "peak", FromTime: t0, UntilTime: t0.Add(72 * time.Hour)}}
	for _, c := range []struct {
		name          string
		now           time.Time
		head, applied string
		msg           string
		want          string // the holding window, "" when the head applies
	}{
		{"before the window", t0.Add(-time.Second), "b", "a", "change", ""},
		{"at its start", t0, "b", "a", "change", "peak"},
		{"inside", t0.Add(time.Hour), "b", "a", "change\n\nSigned-off-by: x <x@y>", "peak"},
		{"at its end", t0.Add(72 * time.Hour), "b", "a", "change", ""},
		{"emergency head", t0.Add(time.Hour), "b", "a", "fix\n\nEmergency: yes", ""},
		{"emergency word in the subject only", t0.Add(time.Hour), "b", "a", "Emergency: yes", "peak"},
		{"head already applied", t0.Add(time.Hour), "a", "a", "change", ""},
		{"first apply of a host", t0.Add(time.Hour), "b", "", "change", "peak"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := ""
			if w := freezeDecision(windows, c.now, c.head, c.applied, c.msg); w != nil {
				got = w.Name
			}
			if got != c.want {
				t.Errorf("freezeDecision = %q, want %q", got, c.want)
			}
		})
	}
}
