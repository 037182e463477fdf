package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestUnitArgs(t *testing.T) {
	dir := t.TempDir()
	env := filepath.Join(dir, "default")
	if err := os.WriteFile(env, []byte("# flags\nDDC_GITOPS_AGENT_ARGS=\"--repo https://git.example/fleet.git --host eu-haproxy-1\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, exec string
		want       []string
		err        string
	}{
		{"lean binary", "/usr/bin/ddc-gitops-agent --state-dir /var/lib/a $DDC_GITOPS_AGENT_ARGS",
			[]string{"--state-dir", "/var/lib/a", "--repo", "https://git.example/fleet.git", "--host", "eu-haproxy-1"}, ""},
		{"subcommand", "/usr/bin/ddc-gitops agent --state-dir /var/lib/a ${DDC_GITOPS_AGENT_ARGS}",
			[]string{"--state-dir", "/var/lib/a", "--repo", "https://git.example/fleet.git", "--host", "eu-haproxy-1"}, ""},
		{"no agent", "/usr/bin/ddc-gitops api --repo-dir /x", nil, "runs neither `ddc-gitops-agent` nor `ddc-gitops agent`"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unit := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".service")
			body := "[Service]\nEnvironmentFile=-" + env + "\nExecStart=" + tc.exec + "\n"
			if err := os.WriteFile(unit, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := unitArgs(unit)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("unitArgs = %q, %v; want an error with %q", got, err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("unitArgs = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
