package api

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// The fleet status page: a read-only web page at / for any signed-in user
// (viewer is enough). It is rendered by html/template; a little plain
// JavaScript (ui/fleet.js) re-fetches the fleet section, rendered by the
// same template, every uiRefresh. No build step, nothing from a CDN.
//
// The session is the API's own JWT in a cookie that is HttpOnly and
// SameSite=Strict (Secure over TLS); the page only reads, and the two forms
// (sign in, sign out) refuse cross-site posts by their Origin and
// Sec-Fetch-Site headers.

//go:embed ui
var uiFiles embed.FS

const (
	sessionCookie = "ddc_gitops_session"
	uiRefresh     = 2 * time.Second
)

var uiTemplates = template.Must(template.New("ui").Funcs(template.FuncMap{
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
}).ParseFS(uiFiles, "ui/layout.html"))

// uiPaths are the routes uiRoutes mounts: HTML, not part of the JSON API
// or its OpenAPI document.
var uiPaths = map[string]bool{"/": true, "/login": true, "/logout": true, "/ui/fleet": true, "/ui/static/*": true}

// uiRoutes mounts the page, its sign-in and sign-out forms, its fleet
// fragment and its static files.
func (s *Server) uiRoutes(r chi.Router) {
	static, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		panic(err) // the embedded directory exists: a build error otherwise
	}
	files := http.StripPrefix("/ui/static/", http.FileServer(http.FS(onlyFiles{static, map[string]bool{"fleet.js": true, "style.css": true}})))
	r.Group(func(r chi.Router) {
		r.Use(uiHeaders)
		r.Get("/", s.handle(s.getUIPage))
		r.Get("/login", s.handle(s.getUILogin))
		r.Post("/login", s.handle(s.postUILogin))
		r.Post("/logout", s.handle(s.postUILogout))
		r.Get("/ui/fleet", s.handle(s.getUIFleet))
		r.Get("/ui/static/*", files.ServeHTTP)
	})
}

// onlyFiles serves the named files of fsys and nothing else.
type onlyFiles struct {
	fsys  fs.FS
	names map[string]bool
}

func (o onlyFiles) Open(name string) (fs.File, error) {
	if !o.names[name] {
		return nil, fs.ErrNotExist
	}
	return o.fsys.Open(name)
}

// uiHeaders sets the page's security headers: scripts and styles from this
// origin only, no framing, no referrer, no caching of fleet data.
func uiHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if !strings.HasPrefix(r.URL.Path, "/ui/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// session returns the signed-in user of the request's cookie, or nil.
func (s *Server) session(r *http.Request) *principal {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	p, err := s.auth.verify(c.Value)
	if err != nil || p.Role.rank() < RoleViewer.rank() {
		return nil
	}
	if lu, ok := r.Context().Value(keyLogUser).(*logUser); ok {
		lu.name = p.User
	}
	return p
}

func (s *Server) getUIPage(w http.ResponseWriter, r *http.Request) error {
	p := s.session(r)
	if p == nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return nil
	}
	v, err := s.fleetView(r.Context())
	if err != nil {
		return err
	}
	return renderUI(w, http.StatusOK, "page", map[string]any{
		"User": p.User, "Role": p.Role, "Fleet": v, "RefreshSeconds": int(uiRefresh.Seconds()),
	})
}

// getUIFleet is the fleet section alone, for the page's refresh.
func (s *Server) getUIFleet(w http.ResponseWriter, r *http.Request) error {
	if s.session(r) == nil {
		return apiErr(http.StatusUnauthorized, CodeUnauthorized, "no session: sign in at /login")
	}
	v, err := s.fleetView(r.Context())
	if err != nil {
		return err
	}
	return renderUI(w, http.StatusOK, "fleet", v)
}

func (s *Server) getUILogin(w http.ResponseWriter, r *http.Request) error {
	if s.session(r) != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	return renderUI(w, http.StatusOK, "login", map[string]any{"Error": ""})
}

func (s *Server) postUILogin(w http.ResponseWriter, r *http.Request) error {
	if err := sameOrigin(r); err != nil {
		return err
	}
	ip := clientIP(r)
	if ok, wait := s.auth.limiter.allow(ip); !ok {
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
		return renderUI(w, http.StatusTooManyRequests, "login", map[string]any{"Error": fmt.Sprintf("Too many attempts: retry in %s.", wait.Round(time.Second))})
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		return fieldErr("username", "cannot read the form: %v", err)
	}
	user, pass := r.PostForm.Get("username"), r.PostForm.Get("password")
	if user == "" || pass == "" || len(pass) > 1024 {
		return renderUI(w, http.StatusBadRequest, "login", map[string]any{"Error": "User and password are required."})
	}
	tok, err := s.auth.login(user, pass)
	if err != nil {
		s.log.Info("login refused", "request_id", requestID(r.Context()), "user", user, "remote", ip, "via", "ui")
		return renderUI(w, http.StatusUnauthorized, "login", map[string]any{"Error": "Unknown user or wrong password."})
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: int(s.auth.ttl.Seconds())})
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

func (s *Server) postUILogout(w http.ResponseWriter, r *http.Request) error {
	if err := sameOrigin(r); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

// sameOrigin refuses a form post another site made the browser send.
func sameOrigin(r *http.Request) error {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return apiErr(http.StatusForbidden, CodeForbidden, "cross-site form post refused")
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return apiErr(http.StatusForbidden, CodeForbidden, "cross-origin form post refused (Origin %q, Host %q)", o, r.Host)
		}
	}
	return nil
}

// renderUI executes template name into a buffer first, so a template
// error never leaves half a page.
func renderUI(w http.ResponseWriter, code int, name string, data any) error {
	var b bytes.Buffer
	if err := uiTemplates.ExecuteTemplate(&b, name, data); err != nil {
		return fmt.Errorf("rendering %s: %w", name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, err := w.Write(b.Bytes())
	return err
}
