package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// The UI's templates, CSS and JS are embedded: the binary needs no files
// and the browser fetches nothing from anywhere else.
var (
	//go:embed templates/*.html
	templateFS embed.FS
	//go:embed static
	staticFS embed.FS
)

// pageNames are the templates under templates/ that define a "content"
// block for layout.html.
var pageNames = []string{"login", "inbox", "approval", "sessions", "session", "message"}

// templates holds one parsed set per page (layout, partials and the page)
// and the bare partials for server-sent fragments.
type templates struct {
	pages    map[string]*template.Template
	partials *template.Template
}

func parseTemplates() (*templates, error) {
	base, err := template.New("").Funcs(templateFuncs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	t := &templates{pages: map[string]*template.Template{}, partials: base}
	for _, name := range pageNames {
		c, err := base.Clone()
		if err == nil {
			_, err = c.ParseFS(templateFS, "templates/"+name+".html")
		}
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		t.pages[name] = c
	}
	return t, nil
}

// page is what layout.html renders around a page's content.
type page struct {
	Title string
	Nav   string // "inbox" or "sessions": the current section
	V     *viewer
	// Inbox is true when approvals are served (the nav shows the inbox).
	Inbox bool
	View  any
}

// viewer is the signed-in user of a page.
type viewer struct {
	ID   *gate.Identity
	CSRF string
	Dev  bool
	// Sessions is true when the user may read the audit trail.
	Sessions bool
}

// securityHeaders apply to every UI response: scripts and styles only from
// this origin (no inline script, so an injected tag cannot run), no
// framing, no sniffing, no referrer leaving the site.
func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// render executes page name into a buffer first, so a template error is a
// clean 500 and not half a page.
func (u *ui) render(w http.ResponseWriter, r *http.Request, code int, name string, p *page) {
	p.Inbox = u.s.cfg.Approvals != nil
	var buf bytes.Buffer
	if err := u.tmpl.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		u.s.log.Error("web: rendering "+name, "err", err)
		http.Error(w, "rendering the page failed", http.StatusInternalServerError)
		return
	}
	securityHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// fragment executes a partial (for event streams).
func (u *ui) fragment(name string, data any) (string, error) {
	var buf bytes.Buffer
	err := u.tmpl.partials.ExecuteTemplate(&buf, name, data)
	return buf.String(), err
}

// message renders a page with one message (errors, refusals).
func (u *ui) message(w http.ResponseWriter, r *http.Request, v *viewer, code int, title, msg string) {
	u.render(w, r, code, "message", &page{Title: title, V: v, View: msg})
}

// fail reports an unexpected error.
func (u *ui) fail(w http.ResponseWriter, r *http.Request, err error) {
	u.s.log.Error("web UI", "path", r.URL.Path, "err", err)
	u.message(w, r, nil, http.StatusInternalServerError, "Something went wrong", err.Error())
}

func (u *ui) staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	files := http.FileServerFS(sub)
	return http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "public, max-age=300")
		files.ServeHTTP(w, r)
	}))
}

var templateFuncs = template.FuncMap{
	"sql":     sqlHTML,
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"clock":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"dur":     humanDuration,
	"join":    strings.Join,
	"deref":   func(p *int64) int64 { return *p },
	// rule names what decided: "policy/rule", or either alone.
	"rule": func(policy, rule string) string {
		if policy != "" && rule != "" {
			return policy + "/" + rule
		}
		return policy + rule
	},
	"rows": func(n int64) string {
		if n == 1 {
			return "1 row"
		}
		return fmt.Sprintf("%d rows", n)
	},
	"sorted": func(m map[string]int64) []string {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return keys
	},
}

// humanDuration renders d as "4m 12s", "2h 5m", "350ms".
func humanDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour && int(d.Seconds())%60 == 0:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
}
