package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/ddc-gitops/ddc-gitops/repo"
)

func TestAuth(t *testing.T) {
	e := newEnv(t, envOpts{})
	before := e.head()
	addBody := `{"name":"auth-1","address":"10.1.0.60:80"}`
	sign := func(c claims, secret string, method jwt.SigningMethod) string {
		tok, err := jwt.NewWithClaims(method, c).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	now := e.clock.Now()
	valid := claims{Role: RoleAdmin, RegisteredClaims: jwt.RegisteredClaims{Issuer: "ddc-gitops", Subject: "ada", Audience: jwt.ClaimStrings{"ddc-gitops-api"},
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}}
	with := func(fn func(*claims)) claims { c := valid; fn(&c); return c }
	good := e.token("ada")
	parts := strings.Split(good, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[0] ^= 1
	tampered := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	promoted := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"ada"`, `"otto"`, 1))) + "." + parts[2]
	noneTok, err := jwt.NewWithClaims(jwt.SigningMethodNone, valid).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name  string
		auth  string
		code  int
		extra string
	}{
		{"no token", "", 401, ""},
		{"not a bearer token", "Basic YWRhOmFkYQ==", 401, ""},
		{"garbage", "Bearer not.a.jwt", 401, ""},
		{"tampered signature", "Bearer " + tampered, 401, ""},
		{"tampered payload", "Bearer " + promoted, 401, ""},
		{"alg none", "Bearer " + noneTok, 401, ""},
		{"HS384 with the right secret", "Bearer " + sign(valid, testSecret, jwt.SigningMethodHS384), 401, ""},
		{"other secret", "Bearer " + sign(valid, "another-secret-of-at-least-32-bytes!!", jwt.SigningMethodHS256), 401, ""},
		{"wrong issuer", "Bearer " + sign(with(func(c *claims) { c.Issuer = "evil" }), testSecret, jwt.SigningMethodHS256), 401, ""},
		{"wrong audience", "Bearer " + sign(with(func(c *claims) { c.Audience = jwt.ClaimStrings{"other"} }), testSecret, jwt.SigningMethodHS256), 401, ""},
		{"no expiry", "Bearer " + sign(with(func(c *claims) { c.ExpiresAt = nil }), testSecret, jwt.SigningMethodHS256), 401, ""},
		{"expired", "Bearer " + sign(with(func(c *claims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Minute)) }), testSecret, jwt.SigningMethodHS256), 401, "expired"},
		{"unknown user", "Bearer " + sign(with(func(c *claims) { c.Subject = "mallory" }), testSecret, jwt.SigningMethodHS256), 401, ""},
		{"viewer", "Bearer " + e.token("vera"), 403, "operator"},
		{"operator on an admin route", "Bearer " + e.token("otto"), 403, "admin"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path, body := "/api/v1/backends/ddc_nodes_http/servers", addBody
			if strings.HasPrefix(tc.name, "operator") {
				path, body = "/api/v1/config", `{"backend":"ddc_nodes_http","servers":[]}`
			}
			var hdr []string
			if tc.auth != "" {
				hdr = []string{"Authorization", tc.auth}
			}
			res := e.call(http.MethodPost, path, "", body, hdr...)
			if res.code != tc.code || !strings.Contains(string(res.body), tc.extra) {
				t.Fatalf("%d %s, want %d mentioning %q", res.code, res.body, tc.code, tc.extra)
			}
			if tc.code == 401 && res.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	if e.head() != before {
		t.Fatal("an unauthorised request committed")
	}
	// The role says what one may do: a viewer reads, an operator writes.
	if res := e.call(http.MethodGet, "/api/v1/backends/ddc_nodes_http/servers", "vera", nil); res.code != 200 {
		t.Fatalf("viewer read: %d", res.code)
	}
	if res := e.call(http.MethodPost, "/api/v1/backends/ddc_nodes_http/servers", "otto", addBody); res.code != 202 {
		t.Fatalf("operator write: %d %s", res.code, res.body)
	}
}

func TestTokenExpiresWithTheClock(t *testing.T) {
	e := newEnv(t, envOpts{cfg: func(c *Config) { c.TokenTTL = time.Minute }})
	tok := e.token("vera")
	get := func() result {
		return e.call(http.MethodGet, "/api/v1/zones", "", nil, "Authorization", "Bearer "+tok)
	}
	if res := get(); res.code != 200 {
		t.Fatalf("fresh token: %d %s", res.code, res.body)
	}
	e.clock.Add(2 * time.Minute)
	if res := get(); res.code != 401 || !strings.Contains(string(res.body), "expired") {
		t.Fatalf("expired token: %d %s", res.code, res.body)
	}
}

func TestLogin(t *testing.T) {
	e := newEnv(t, envOpts{cfg: func(c *Config) { c.AuthRate, c.AuthBurst = 0.001, 3 }})
	res := e.call(http.MethodPost, "/api/v1/auth/token", "", `{"username":"ada","password":"ada-password"}`)
	var tr TokenResponse
	res.decode(t, &tr)
	if res.code != 200 || tr.TokenType != "Bearer" || tr.ExpiresIn != 3600 || tr.AccessToken == "" {
		t.Fatalf("login: %d %s", res.code, res.body)
	}
	for _, tc := range []struct {
		name, body string
		code       int
	}{
		{"wrong password", `{"username":"ada","password":"nope"}`, 401},
		// There is no built-in account: the original admin/admin exists only
		// if the operator writes it into the users file.
		{"no default admin", `{"username":"admin","password":"admin"}`, 401},
		{"rate limited", `{"username":"ada","password":"ada-password"}`, 429},
	} {
		res := e.call(http.MethodPost, "/api/v1/auth/token", "", tc.body)
		if res.code != tc.code {
			t.Errorf("%s: %d %s, want %d", tc.name, res.code, res.body, tc.code)
		}
		if tc.code == 429 && res.header.Get("Retry-After") == "" {
			t.Errorf("429 without Retry-After")
		}
	}
	// Same message for an unknown user and a wrong password.
	e2 := newEnv(t, envOpts{})
	a := e2.call(http.MethodPost, "/api/v1/auth/token", "", `{"username":"ada","password":"nope"}`).apiError(t)
	b := e2.call(http.MethodPost, "/api/v1/auth/token", "", `{"username":"nobody","password":"nope"}`).apiError(t)
	if a.Message != b.Message || a.Code != b.Code {
		t.Fatalf("unknown user and wrong password are distinguishable: %q vs %q", a.Message, b.Message)
	}
}

func TestNewRefusesUnsafeConfig(t *testing.T) {
	r, err := repo.Open(context.Background(), repo.Options{URL: seededServer(t).RepoPath(), Dir: filepath.Join(t.TempDir(), "clone")})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no users", Config{JWTSecret: []byte(testSecret)}, "no users"},
		{"short secret", Config{Users: testUsers, JWTSecret: []byte("short")}, "at least 32"},
		{"PR mode without a forge", Config{Users: testUsers, JWTSecret: []byte(testSecret), PR: PRMode{Roles: []Role{RoleOperator}}}, "forge"},
		{"bad PR route", Config{Users: testUsers, JWTSecret: []byte(testSecret), PR: PRMode{Routes: []string{"/config"}}}, "PR route"},
	}
	for _, tc := range cases {
		if _, err := New(tc.cfg, Deps{Repo: r}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

func TestParseUsers(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if bcrypt.CompareHashAndPassword([]byte(h), []byte("correct horse")) != nil {
		t.Fatal("HashPassword's hash does not check")
	}
	if _, err := HashPassword("short"); err == nil {
		t.Fatal("a 5-character password was hashed")
	}
	users, err := ParseUsers([]byte("users:\n  - username: admin\n    passwordHash: '" + h + "'\n    role: admin\n"))
	if err != nil || len(users) != 1 || users[0].Role != RoleAdmin {
		t.Fatalf("users %+v err %v", users, err)
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown field", "users:\n  - username: a\n    password: x\n    role: admin\n", "field password not found"},
		{"plain password", "users:\n  - username: a\n    passwordHash: admin\n    role: admin\n", "not a bcrypt hash"},
		{"bad role", "users:\n  - username: a\n    passwordHash: '" + h + "'\n    role: root\n", "want viewer, operator or admin"},
		{"bad name", "users:\n  - username: 'a b'\n    passwordHash: '" + h + "'\n    role: admin\n", "username"},
		{"twice", "users:\n  - {username: a, passwordHash: '" + h + "', role: admin}\n  - {username: a, passwordHash: '" + h + "', role: viewer}\n", "listed twice"},
	} {
		if _, err := ParseUsers([]byte(tc.yaml)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestIPLimiterIsBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newIPLimiter(1, 2, func() time.Time { return now })
	for i := range maxBuckets + 10 {
		l.allow(fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255))
	}
	if len(l.buckets) > maxBuckets {
		t.Fatalf("%d buckets, bound %d", len(l.buckets), maxBuckets)
	}
	ok1, _ := l.allow("x")
	ok2, _ := l.allow("x")
	ok3, wait := l.allow("x")
	if !ok1 || !ok2 || ok3 || wait <= 0 {
		t.Fatalf("burst of 2: %v %v %v (wait %s)", ok1, ok2, ok3, wait)
	}
	now = now.Add(time.Second)
	if ok, _ := l.allow("x"); !ok {
		t.Fatal("no token after a second at 1/s")
	}
}
