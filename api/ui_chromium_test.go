package api

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

// TestStatusPageInChromium signs in with a real browser, sees the four
// hosts on the head, then a commit pushed around the API appear on every
// host without the page being reloaded; a screenshot goes to the test's
// artifact directory (go test -artifacts keeps it).
func TestStatusPageInChromium(t *testing.T) {
	e := newUIEnv(t)
	ctx := chromiumtest.New(t)
	step := func(what string, d time.Duration, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	hostsOn := func(rev string) string {
		return fmt.Sprintf(`document.querySelectorAll('tr.host[data-applied="%s"]').length === 4`, rev)
	}
	head := e.head()
	step("sign in", 30*time.Second,
		chromedp.Navigate(e.http.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "vera"),
		chromedp.SendKeys(chromedp.ID("password"), "vera-password"),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("fleet")),
	)
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || loc != e.http.URL+"/" {
		t.Fatalf("after sign-in the browser is at %q (%v)", loc, err)
	}
	if err := chromiumtest.WaitJS(ctx, hostsOn(head), 10*time.Second); err != nil {
		t.Fatalf("four hosts on the head: %v", err)
	}
	// A mark on the window: a reload would drop it.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__noReload = 42`)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rev := e.pushCommit("ui: pushed while the page is open")
	if err := chromiumtest.WaitJS(ctx, hostsOn(rev)+` && document.getElementById("head").textContent === "`+rev[:12]+`"`, 20*time.Second); err != nil {
		t.Fatalf("the new revision on every host: %v", err)
	}
	t.Logf("the page showed %s on 4 hosts %s after the push", rev[:12], time.Since(start).Round(time.Millisecond))
	mark, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__noReload`))
	if err != nil || mark != 42 {
		t.Fatalf("the page was reloaded (mark %d, %v)", mark, err)
	}
	// The session cookie is not readable by scripts.
	if c, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`)); err != nil || c != "" {
		t.Errorf("document.cookie = %q (%v), want the HttpOnly session hidden", c, err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(t.ArtifactDir(), "status-page.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))
}
