package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ddc-gitops/ddc-gitops/internal/netns/netnstest"
)

// userData is the part of cloud-init's #cloud-config the file uses.
type userData struct {
	Hostname   string   `yaml:"hostname"`
	Packages   []string `yaml:"packages"`
	WriteFiles []struct {
		Path        string `yaml:"path"`
		Permissions string `yaml:"permissions"`
		Content     string `yaml:"content"`
	} `yaml:"write_files"`
	Runcmd []string `yaml:"runcmd"`
}

// TestCloudInitUserData does what cloud-init does with
// deploy/cloud-init/haproxy-host.yaml on a fresh Debian 12 root: installs
// its packages, writes its files and runs its commands (chrooted, with the
// host name set in a UTS namespace), the package URL and token filled in.
// Left out are `sysctl --system` (in a chroot it would change this
// machine's kernel; the file it applies is checked instead) and
// `systemctl start` (nothing runs systemd here; `systemctl enable` works
// in a chroot and is checked). TestAnsibleSite runs the agent for real.
func TestCloudInitUserData(t *testing.T) {
	netnstest.RequireRoot(t)
	for _, bin := range []string{"debootstrap", "chroot", "unshare"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("skipping: %s not installed", bin)
		}
	}
	raw, err := os.ReadFile("cloud-init/haproxy-host.yaml")
	must(t, err)
	if !strings.HasPrefix(string(raw), "#cloud-config\n") {
		t.Fatal("user-data must start with #cloud-config")
	}
	var ud userData
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	must(t, dec.Decode(&ud))

	deb := buildPackage(t)
	root := filepath.Join(t.TempDir(), "vm")
	newRoot(t, baseRoot(t), root)
	const host, token = "eu-haproxy-2", "cloud-init-token-0123456789"

	args := append([]string{root, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "--no-install-recommends"}, ud.Packages...)
	if out, err := exec.Command("chroot", args...).CombinedOutput(); err != nil {
		t.Fatalf("packages: %v\n%s", err, tail(out))
	}
	keepDebs(t, root)
	for _, f := range ud.WriteFiles {
		content := strings.NewReplacer("https://downloads.example.com/ddc-gitops_0.1.0_amd64.deb", "file:///tmp/pkg.deb",
			"REPLACE_GIT_TOKEN", token).Replace(f.Content)
		var mode os.FileMode = 0o644
		if f.Permissions == "0600" {
			mode = 0o600
		}
		must(t, os.MkdirAll(filepath.Join(root, filepath.Dir(f.Path)), 0o755))
		must(t, os.WriteFile(filepath.Join(root, f.Path), []byte(content), mode))
	}
	b, err := os.ReadFile(deb)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(root, "tmp/pkg.deb"), b, 0o644))
	for _, c := range ud.Runcmd {
		if strings.HasPrefix(c, "sysctl ") || strings.HasPrefix(c, "systemctl start ") {
			continue // they act on a booted system: this machine's kernel, no systemd here
		}
		out, err := exec.Command("unshare", "--uts", "sh", "-c", `hostname "$1" && exec chroot "$2" sh -c "$3"`, "sh", host, root, c).CombinedOutput()
		if err != nil {
			t.Fatalf("runcmd %q: %v\n%s", c, err, tail(out))
		}
	}

	if out, err := inRoot(t, root, "dpkg-query", "-W", "-f", "${Status}", "ddc-gitops"); err != nil || out != "install ok installed" {
		t.Errorf("ddc-gitops: %q %v", out, err)
	}
	checkMode(t, root, "/etc/ddc-gitops/git-token", 0o600, "root", "root")
	checkMode(t, root, "/etc/ddc-gitops/age.key", 0o600, "root", "root")
	if b, _ := os.ReadFile(filepath.Join(root, "etc/ddc-gitops/git-token")); strings.TrimSpace(string(b)) != token {
		t.Errorf("git-token holds %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/ddc-gitops/age.pub")); !strings.HasPrefix(string(b), "age1") {
		t.Errorf("age.pub holds %q", b)
	}
	def, _ := os.ReadFile(filepath.Join(root, "etc/default/ddc-gitops-agent"))
	for _, w := range []string{"--repo https://git.example.com/ops/fleet.git", "--host " + host, "--git-token-file /etc/ddc-gitops/git-token", "--listen ''"} {
		if !strings.Contains(string(def), w) {
			t.Errorf("/etc/default/ddc-gitops-agent lacks %q:\n%s", w, def)
		}
	}
	for _, gone := range []string{"etc/ddc-gitops-cloud-init.env", "tmp/ddc-gitops.deb"} {
		if _, err := os.Stat(filepath.Join(root, gone)); err == nil {
			t.Errorf("/%s is left behind", gone)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/sysctl.d/60-ddc-gitops.conf")); !strings.Contains(string(b), "net.ipv4.ip_nonlocal_bind=1") {
		t.Errorf("sysctl file: %q", b)
	}
	for _, u := range []string{"haproxy.service", "keepalived.service", "ddc-gitops-agent.service", "systemd-timesyncd.service"} {
		if out, err := inRoot(t, root, "systemctl", "is-enabled", u); err != nil || strings.TrimSpace(out) != "enabled" {
			t.Errorf("%s is %q (%v), want enabled", u, strings.TrimSpace(out), err)
		}
	}
	if _, err := exec.LookPath("systemd-analyze"); err == nil {
		if out, err := exec.Command("systemd-analyze", "verify", "--root="+root, "/lib/systemd/system/ddc-gitops-agent.service").CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	}
	// The agent's command line from the unit and the written defaults parses.
	argv := append(unitCommand(t, root), "--help")
	if out, err := inRoot(t, root, argv...); err != nil {
		t.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
}
