//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ddc-gitops/ddc-gitops/internal/chromiumtest"
)

// TestStatusPageOnTheLab: in real headless Chromium, sign in to the EU API's
// status page, see the 4 hosts on the head, push a commit with git and see
// every host reach it without reloading the page; a screenshot goes to the
// test's artifact directory (go test -artifacts keeps it).
func TestStatusPageOnTheLab(t *testing.T) {
	e := startLab(t, labOptions{})
	ctx := chromiumtest.New(t)
	api := e.zone("eu").APIURL
	head, err := e.ctl.Git().Head()
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx,
		chromedp.Navigate(api+"/"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), e.info.AdminUser),
		chromedp.SendKeys(chromedp.ID("password"), e.info.AdminPassword),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("fleet")),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	// The 4 HAProxy hosts (the container hosts' agents are listed too).
	hostsOn := func(rev string) string {
		sel := ""
		for i, a := range e.info.Agents {
			if i > 0 {
				sel += ","
			}
			sel += fmt.Sprintf(`tr.host[data-host="%s"][data-applied="%s"]`, a.Host, rev)
		}
		return fmt.Sprintf(`document.querySelectorAll('%s').length === %d`, sel, len(e.info.Agents))
	}
	if len(e.info.Agents) != 4 {
		t.Fatalf("%d HAProxy hosts, want 4", len(e.info.Agents))
	}
	if err := chromiumtest.WaitJS(ctx, hostsOn(head), 20*time.Second); err != nil {
		t.Fatalf("four hosts on the head %s: %v", head[:12], err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__noReload = 42`)); err != nil {
		t.Fatal(err)
	}
	node, err := os.ReadFile(filepath.Join(e.info.CloneDir, "nodes", "eu-node-1.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var start time.Time
	rev := e.gitPush(map[string][]byte{"nodes/eu-node-1.yaml": e.replaceOnce(node, "weight: 100", "weight: 42")}, "e2e: status page sees this", &start)
	if err := chromiumtest.WaitJS(ctx, hostsOn(rev), 30*time.Second); err != nil {
		t.Fatalf("four hosts on the pushed %s: %v", rev[:12], err)
	}
	t.Logf("the page showed %s on 4 hosts %v after the push", rev[:12], time.Since(start).Round(time.Millisecond))
	if mark, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__noReload`)); err != nil || mark != 42 {
		t.Fatalf("the page was reloaded (mark %d, %v)", mark, err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(t.ArtifactDir(), "lab-status-page.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)
}
