package api

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium starts Debian's headless Chromium with the flags this offline
// machine needs (FIELD-NOTES) and an empty profile, and returns a browser
// context; everything stops at the test's end.
func chromium(t *testing.T) context.Context {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (make deps installs Debian's chromium)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first Run starts the browser; its context must not time out.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// TestStatusPageInChromium signs in with a real browser, sees the four
// hosts on the head, then a commit pushed around the API appear on every
// host without the page being reloaded; a screenshot goes to the test's
// artifact directory (go test -artifacts keeps it).
func TestStatusPageInChromium(t *testing.T) {
	e := newUIEnv(t)
	ctx := chromium(t)
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
	step("four hosts on the head", 10*time.Second,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Poll[bool](hostsOn(head), chromedp.WithPollingTimeout(10*time.Second))(ctx, tg)
			return err
		}),
	)
	// A mark on the window: a reload would drop it.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__noReload = 42`)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rev := e.pushCommit("ui: pushed while the page is open")
	step("the new revision on every host", 20*time.Second,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Poll[bool](hostsOn(rev)+` && document.getElementById("head").textContent === "`+rev[:12]+`"`,
				chromedp.WithPollingTimeout(20*time.Second))(ctx, tg)
			return err
		}),
	)
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
