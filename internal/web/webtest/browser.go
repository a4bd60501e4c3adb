// Package webtest drives the gatehouse web UI in a real browser, Debian's
// chromium through chromedp, for tests only. A test gets a headless tab with
// NewBrowser (skipped with a clear message when chromium is not installed)
// and uses the page helpers (OpenInbox, WaitRequest, Decide, ...) against
// any server that serves internal/web's handler: an httptest server over
// fakes, or the whole gateway.
//
// Every helper fails the test (t.Fatal, with the page's URL and text) when
// its step does not happen within Timeout, so helpers must be called from
// the test's goroutine.
package webtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian installs chromium's launcher.
const ChromiumPath = "/usr/bin/chromium"

// Browser is one headless chromium tab.
type Browser struct {
	t testing.TB
	// Ctx is the tab's chromedp context, for steps the helpers lack.
	Ctx context.Context
	// Timeout bounds each helper's step; 20s unless changed.
	Timeout time.Duration
}

// NewBrowser starts headless chromium with a fresh profile for t, or skips
// t when chromium is not installed. The browser stops at cleanup.
func NewBrowser(t testing.TB) *Browser {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		t.Skipf("chromium is not installed (%s missing): apt-get install -y chromium to run the browser tests", ChromiumPath)
	}
	exe := ChromiumPath
	// Debian's launcher is a shell script; start the binary it runs when
	// it is there, so no /etc/chromium.d flags leak in.
	if _, err := os.Stat("/usr/lib/chromium/chromium"); err == nil {
		exe = "/usr/lib/chromium/chromium"
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &Browser{t: t, Ctx: ctx, Timeout: 20 * time.Second}
	// The first run starts the browser and binds it to its context, so it
	// gets the tab's context itself: a derived one would stop the browser
	// when cancelled.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("webtest: starting %s: %v", exe, err)
	}
	return b
}

// do runs steps within Timeout, failing the test with what the page shows.
func (b *Browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, b.Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.fail(what, err)
	}
}

func (b *Browser) fail(what string, err error) {
	b.t.Helper()
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("not within %s", b.Timeout)
	}
	ctx, cancel := context.WithTimeout(b.Ctx, 5*time.Second)
	defer cancel()
	url, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	b.t.Fatalf("webtest: %s: %v\npage %s shows:\n%s", what, err, url, text)
}

// Open navigates to url.
func (b *Browser) Open(url string) {
	b.t.Helper()
	b.do("open "+url, chromedp.Navigate(url))
}

// Location is the tab's current URL.
func (b *Browser) Location() string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, b.Timeout)
	defer cancel()
	u, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		b.fail("location", err)
	}
	return u
}

// WaitVisible waits until the element matching the CSS selector shows.
func (b *Browser) WaitVisible(css string) {
	b.t.Helper()
	b.do("wait for "+css, chromedp.WaitVisible(chromedp.CSS(css)))
}

// WaitGone waits until no element matches the CSS selector.
func (b *Browser) WaitGone(css string) {
	b.t.Helper()
	b.do("wait for "+css+" to go", chromedp.WaitNotPresent(chromedp.CSS(css)))
}

// Text returns the visible text of the element matching the CSS selector.
func (b *Browser) Text(css string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, b.Timeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		b.fail("read "+css, err)
	}
	return s
}

// WaitTrue polls a JavaScript expression until it is true.
func (b *Browser) WaitTrue(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, b.Timeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		b.fail(what, err)
	}
}

// Screenshot saves the whole page as a PNG at path, creating its directory.
func (b *Browser) Screenshot(path string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, b.Timeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		b.fail("screenshot", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}
