package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gatetest"
)

// stopAt makes c stop following redirects when stop says so, returning
// that response instead.
func stopAt(c *http.Client, stop func(*http.Request) bool) {
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if stop(req) {
			return http.ErrUseLastResponse
		}
		return nil
	}
}

// startSignIn follows the sign-in up to the redirect to the issuer's
// /authorize and returns that URL, without going there.
func startSignIn(t *testing.T, e *uiEnv, c *http.Client, path string) *url.URL {
	t.Helper()
	stopAt(c, func(r *http.Request) bool { return r.URL.Path == "/authorize" })
	resp, body := do(t, c, "GET", e.Srv.URL+path, nil, nil)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GET %s: %d %s, want a redirect to the issuer", path, resp.StatusCode, body)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// atIssuer sends the browser to the (possibly edited) authorize URL and
// stops at the redirect back to the callback, returning its URL.
func atIssuer(t *testing.T, c *http.Client, authorize *url.URL) *url.URL {
	t.Helper()
	stopAt(c, func(r *http.Request) bool { return r.URL.Path == callbackPath })
	resp, body := do(t, c, "GET", authorize.String(), nil, nil)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("issuer answered %d %s", resp.StatusCode, body)
	}
	u, _ := url.Parse(resp.Header.Get("Location"))
	return u
}

func TestOIDCSignInRoundTrip(t *testing.T) {
	e := newUIEnv(t, nil)
	c := e.browser(t)
	auth := startSignIn(t, e, c, "/approvals/ap_7?x=1")
	q := auth.Query()
	for k, want := range map[string]string{"response_type": "code", "client_id": "gatehouse-ui", "code_challenge_method": "S256",
		"redirect_uri": e.Srv.URL + callbackPath, "scope": "openid email profile"} {
		if q.Get(k) != want {
			t.Errorf("authorize %s = %q, want %q", k, q.Get(k), want)
		}
	}
	if len(q.Get("state")) < 40 || len(q.Get("nonce")) < 40 || len(q.Get("code_challenge")) != 43 {
		t.Errorf("state, nonce or code_challenge too short: %v", q)
	}
	cb := atIssuer(t, c, auth)
	stopAt(c, func(*http.Request) bool { return true })
	resp, body := do(t, c, "GET", cb.String(), nil, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/approvals/ap_7?x=1" {
		t.Fatalf("callback: %d to %q, want 303 back to the page asked for:\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	var sess *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie {
			sess = ck
		}
	}
	if sess == nil || !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Secure || sess.Path != "/" ||
		sess.MaxAge != int(DefaultSessionTTL/time.Second) {
		t.Fatalf("session cookie = %+v", sess)
	}
	if strings.Contains(sess.Value, "alice") {
		t.Fatal("session cookie is readable, want it sealed")
	}
	c.CheckRedirect = nil
	resp, body = do(t, c, "GET", e.Srv.URL+"/approvals", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "alice (alice@example.com)") {
		t.Fatalf("inbox after sign-in: %d\n%s", resp.StatusCode, body)
	}
	// The code is single use: replaying the callback fails (and the
	// login cookie is gone).
	_, body = do(t, e.browser(t), "GET", cb.String(), nil, nil)
	if !strings.Contains(body, "expired or was started in another browser") {
		t.Fatalf("replayed callback:\n%s", body)
	}
}

func TestOIDCSignInRefusals(t *testing.T) {
	e := newUIEnv(t, nil)
	cases := []struct {
		name string
		// editAuth changes the authorize request, editCB the callback.
		editAuth, editCB func(url.Values)
		code             int
		want             string
	}{
		{name: "tampered state", editCB: func(q url.Values) { q.Set("state", q.Get("state")+"x") },
			code: 400, want: "state parameter does not match"},
		{name: "missing state", editCB: func(q url.Values) { q.Del("state") }, code: 400, want: "state parameter does not match"},
		{name: "nonce swapped", editAuth: func(q url.Values) { q.Set("nonce", "attacker-nonce") },
			code: 401, want: "nonce does not match"},
		{name: "PKCE challenge swapped", editAuth: func(q url.Values) { q.Set("code_challenge", strings.Repeat("A", 43)) },
			code: 401, want: "exchanging the code"},
		{name: "other issuer named", editCB: func(q url.Values) { q.Set("iss", "https://evil.example") },
			code: 401, want: "names issuer"},
		{name: "issuer error", editCB: func(q url.Values) { q.Del("code"); q.Set("error", "access_denied") },
			code: 401, want: "access_denied"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := e.browser(t)
			auth := startSignIn(t, e, c, "/approvals")
			if tc.editAuth != nil {
				q := auth.Query()
				tc.editAuth(q)
				auth.RawQuery = q.Encode()
			}
			cb := atIssuer(t, c, auth)
			if tc.editCB != nil {
				q := cb.Query()
				tc.editCB(q)
				cb.RawQuery = q.Encode()
			}
			resp, body := do(t, c, "GET", cb.String(), nil, nil)
			if resp.StatusCode != tc.code || !strings.Contains(body, tc.want) {
				t.Fatalf("%d, want %d containing %q:\n%s", resp.StatusCode, tc.code, tc.want, body)
			}
			for _, ck := range resp.Cookies() {
				if ck.Name == sessionCookie && ck.MaxAge >= 0 {
					t.Fatalf("a session cookie was set: %+v", ck)
				}
			}
			if resp, _ := do(t, c, "GET", e.Srv.URL+"/approvals", nil, nil); resp.Request.URL.Path == "/approvals" {
				t.Fatal("signed in after a refused sign-in")
			}
		})
	}
}

func TestSessionCookie(t *testing.T) {
	clock := gatetest.NewClock(time.Now())
	e := newUIEnv(t, func(c *Config) { c.Clock = clock; c.UI.SessionTTL = time.Hour })
	c := e.signIn(t)
	u, _ := url.Parse(e.Srv.URL)

	// A cookie sealed under another key, or edited, is no sign-in.
	jar := c.Jar
	orig := jar.Cookies(u)[0]
	for _, bad := range []string{orig.Value[:len(orig.Value)-2] + "AA", "x" + orig.Value, ""} {
		c2 := e.browser(t)
		c2.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: bad}})
		stopAt(c2, func(*http.Request) bool { return true })
		resp, _ := do(t, c2, "GET", e.Srv.URL+"/approvals", nil, nil)
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
			t.Fatalf("tampered cookie %q: %d %s", bad, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	other := newUIEnv(t, func(c *Config) { c.UI.SessionKey = []byte("another key, also thirty-two bytes!") })
	c3 := e.browser(t)
	ou, _ := url.Parse(other.Srv.URL)
	c3.Jar.SetCookies(ou, []*http.Cookie{{Name: sessionCookie, Value: orig.Value}})
	stopAt(c3, func(*http.Request) bool { return true })
	if resp, _ := do(t, c3, "GET", other.Srv.URL+"/approvals", nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("cookie from another key accepted: %d", resp.StatusCode)
	}

	// Sessions expire.
	clock.Advance(59 * time.Minute)
	stopAt(c, func(*http.Request) bool { return true })
	if resp, _ := do(t, c, "GET", e.Srv.URL+"/approvals", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("before expiry: %d", resp.StatusCode)
	}
	clock.Advance(2 * time.Minute)
	if resp, _ := do(t, c, "GET", e.Srv.URL+"/approvals", nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after expiry: %d, want a redirect to sign in", resp.StatusCode)
	}
}

func TestSecureCookies(t *testing.T) {
	e := newUIEnv(t, func(c *Config) { c.UI.SecureCookies = true })
	c := e.browser(t)
	stopAt(c, func(*http.Request) bool { return true })
	resp, _ := do(t, c, "GET", e.Srv.URL+"/login/oidc", nil, nil)
	var login *http.Cookie
	for _, ck := range resp.Cookies() {
		login = ck
	}
	if login == nil || login.Name != "__Host-"+loginCookie || !login.Secure || !login.HttpOnly || login.SameSite != http.SameSiteLaxMode {
		t.Fatalf("login cookie = %+v", login)
	}
	auth, _ := url.Parse(resp.Header.Get("Location"))
	if got := auth.Query().Get("redirect_uri"); got != "https://"+strings.TrimPrefix(e.Srv.URL, "http://")+callbackPath {
		t.Fatalf("redirect_uri = %q, want https", got)
	}
}

func TestDevSignIn(t *testing.T) {
	e := newUIEnv(t, func(c *Config) { c.UI = UIConfig{Dev: true} })
	c := e.browser(t)
	resp, body := do(t, c, "GET", e.Srv.URL+"/approvals", nil, nil)
	if resp.Request.URL.Path != "/login" || !strings.Contains(body, "Development sign-in") || strings.Contains(body, "single sign-on") {
		t.Fatalf("dev sign-in page at %s:\n%s", resp.Request.URL, body)
	}
	form := url.Values{"subject": {"carol"}, "groups": {"dba, platform"}}
	// Without the page's token the form is refused.
	if resp, _ := do(t, c, "POST", e.Srv.URL+"/login/dev", form, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("dev sign-in without CSRF token: %d", resp.StatusCode)
	}
	_, body = do(t, c, "GET", e.Srv.URL+"/login?next=/approvals", nil, nil)
	form.Set("csrf", csrfFrom(t, body))
	resp, body = do(t, c, "POST", e.Srv.URL+"/login/dev", form, nil)
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/approvals" || !strings.Contains(body, "carol") ||
		!strings.Contains(body, "identities are not verified") {
		t.Fatalf("after dev sign-in: %d at %s\n%s", resp.StatusCode, resp.Request.URL, body)
	}
	req, _ := http.NewRequest("GET", e.Srv.URL, nil)
	for _, ck := range c.Jar.Cookies(req.URL) {
		req.AddCookie(ck)
	}
	ss := e.Web.ui.currentSession(req)
	if ss == nil || ss.Issuer != "gatehouse-dev" || ss.Subject != "carol" || strings.Join(ss.Groups, "|") != "dba|platform" || !ss.Dev {
		t.Fatalf("dev session = %+v", ss)
	}
}

func TestDevSignInLoopbackOnly(t *testing.T) {
	e := newUIEnv(t, func(c *Config) { c.UI.Dev = true })
	for _, tc := range []struct {
		method, path string
		code         int
		want         string
	}{
		// OIDC is configured too: a remote browser goes there.
		{"GET", "/login", http.StatusSeeOther, ""},
		{"GET", "/login?signed_out=1", http.StatusOK, "own machine only"},
		{"POST", "/login/dev", http.StatusForbidden, "this machine only"},
	} {
		req := httptest.NewRequest(tc.method, tc.path, strings.NewReader("subject=eve&groups=dba"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = "192.0.2.7:40000"
		rec := httptest.NewRecorder()
		e.Web.ServeHTTP(rec, req)
		body := rec.Body.String()
		if rec.Code != tc.code || !strings.Contains(body, tc.want) || strings.Contains(body, `action="/login/dev"`) {
			t.Errorf("%s %s from a remote address: %d\n%s", tc.method, tc.path, rec.Code, body)
		}
		if strings.Contains(rec.Header().Get("Set-Cookie"), sessionCookie) {
			t.Errorf("%s %s from a remote address set a session", tc.method, tc.path)
		}
	}
}

func TestDevSignInOnlyWhenEnabled(t *testing.T) {
	e := newUIEnv(t, nil) // OIDC only
	code, _ := e.api(t, "POST", "/login/dev", "", "")
	if code != http.StatusNotFound {
		t.Fatalf("POST /login/dev without identity.dev: %d, want 404", code)
	}
	c := e.browser(t)
	_, body := do(t, c, "GET", e.Srv.URL+"/login?signed_out=1", nil, nil)
	if strings.Contains(body, "Development sign-in") || strings.Contains(body, `action="/login/dev"`) {
		t.Fatalf("dev form shown without identity.dev:\n%s", body)
	}
	// No UI at all without a sign-in method.
	e = newUIEnv(t, func(c *Config) { c.UI = UIConfig{} })
	if code, _ := e.api(t, "GET", "/login", "", ""); code != http.StatusNotFound {
		t.Fatalf("GET /login with no UI configured: %d", code)
	}
	if _, err := New(Config{Auth: e.Tokens, Trail: sampleTrail(), UI: UIConfig{Issuer: "https://x.example"}}); err == nil {
		t.Fatal("UI.Issuer without ClientID and Claims accepted")
	}
	if _, err := New(Config{Auth: e.Tokens, Trail: sampleTrail(), UI: UIConfig{Dev: true, SessionKey: []byte("short")}}); err == nil {
		t.Fatal("a 5-byte session key accepted")
	}
}

func TestLogout(t *testing.T) {
	e := newUIEnv(t, nil)
	c := e.signIn(t)
	_, page := do(t, c, "GET", e.Srv.URL+"/approvals", nil, nil)
	if resp, _ := do(t, c, "POST", e.Srv.URL+"/logout", url.Values{}, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("logout without CSRF token: %d", resp.StatusCode)
	}
	resp, body := do(t, c, "POST", e.Srv.URL+"/logout", url.Values{"csrf": {csrfFrom(t, page)}}, nil)
	if resp.Request.URL.Path != "/login" || !strings.Contains(body, "You are signed out") {
		t.Fatalf("after logout at %s:\n%s", resp.Request.URL, body)
	}
	stopAt(c, func(*http.Request) bool { return true })
	if resp, _ := do(t, c, "GET", e.Srv.URL+"/approvals", nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("still signed in after logout: %d", resp.StatusCode)
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{"/approvals/ap_1?x=1": "/approvals/ap_1?x=1", "": "/", "//evil.example/x": "/",
		"/\\evil.example": "/", "https://evil.example/": "/", "approvals": "/", "/a\r\nSet-Cookie: x": "/"} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}
