package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/time/rate"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
	"github.com/ddc-gitops/ddc-gitops/desired"
)

// Role is what a user may do.
type Role string

// Roles, each allowed what the ones before it are.
const (
	// RoleViewer reads: config, servers, stats, revisions.
	RoleViewer Role = "viewer"
	// RoleOperator also changes servers and reloads zones.
	RoleOperator Role = "operator"
	// RoleAdmin may do everything, including replacing a backend's server list.
	RoleAdmin Role = "admin"
)

func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleOperator:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// User is one entry of the users file.
type User struct {
	Username string `yaml:"username"`
	// PasswordHash is a bcrypt hash (see HashPassword).
	PasswordHash string `yaml:"passwordHash"`
	Role         Role   `yaml:"role"`
}

// MinSecretBytes is the shortest JWT signing secret accepted (HS256 wants
// at least the hash size): agentapi.MinSecretBytes, as for every shared
// secret.
const MinSecretBytes = agentapi.MinSecretBytes

// HashPassword returns the bcrypt hash of password for the users file.
func HashPassword(password string) (string, error) {
	if len(password) < 8 {
		return "", errors.New("hashing password: use at least 8 characters")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hashing password: %w", err)
	}
	return string(h), nil
}

// LoadUsers reads a users file: {users: [{username, passwordHash, role}]}.
func LoadUsers(path string) ([]User, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading users file: %w", err)
	}
	users, err := ParseUsers(b)
	if err != nil {
		return nil, fmt.Errorf("users file %s: %w", path, err)
	}
	return users, nil
}

// ParseUsers strictly decodes and checks a users file.
func ParseUsers(data []byte) ([]User, error) {
	var f struct {
		Users []User `yaml:"users"`
	}
	if err := decodeStrictYAML(data, &f); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var errs []error
	for i, u := range f.Users {
		switch {
		case !desired.ValidName(u.Username):
			errs = append(errs, fmt.Errorf("users[%d].username %q: want letters, digits, '_', '.', '-' (it names branches and commit authors)", i, u.Username))
		case seen[u.Username]:
			errs = append(errs, fmt.Errorf("users[%d].username %q: listed twice", i, u.Username))
		}
		seen[u.Username] = true
		if _, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil {
			errs = append(errs, fmt.Errorf("users[%d].passwordHash: not a bcrypt hash (make one with `ddc-gitops api hash-password`): %w", i, err))
		}
		if u.Role.rank() == 0 {
			errs = append(errs, fmt.Errorf("users[%d].role %q: want viewer, operator or admin", i, u.Role))
		}
	}
	return f.Users, errors.Join(errs...)
}

// principal is the authenticated caller.
type principal struct {
	User string
	Role Role
}

func principalOf(ctx context.Context) *principal {
	p, _ := ctx.Value(keyPrincipal).(*principal)
	return p
}

// claims are the JWT's claims.
type claims struct {
	Role Role `json:"role"`
	jwt.RegisteredClaims
}

// authenticator checks passwords and issues and verifies tokens.
type authenticator struct {
	users    map[string]User
	dummy    []byte // compared against for unknown users, so they cost a bcrypt too
	secret   []byte
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
	limiter  *ipLimiter
}

func newAuthenticator(cfg *Config, now func() time.Time) (*authenticator, error) {
	if len(cfg.JWTSecret) < MinSecretBytes {
		return nil, fmt.Errorf("the JWT secret has %d bytes; at least %d are needed", len(cfg.JWTSecret), MinSecretBytes)
	}
	a := &authenticator{users: map[string]User{}, secret: cfg.JWTSecret, issuer: cfg.JWTIssuer, audience: cfg.JWTAudience, ttl: cfg.TokenTTL, now: now,
		limiter: newIPLimiter(cfg.AuthRate, cfg.AuthBurst, now)}
	cost := bcrypt.DefaultCost
	for _, u := range cfg.Users {
		a.users[u.Username] = u
		if c, err := bcrypt.Cost([]byte(u.PasswordHash)); err == nil {
			cost = c // the dummy costs what a real user costs
		}
	}
	var err error
	a.dummy, err = bcrypt.GenerateFromPassword([]byte(randomHex(16)), cost)
	if err != nil {
		return nil, fmt.Errorf("preparing the password check: %w", err)
	}
	return a, nil
}

// login checks a password and returns a signed token.
func (a *authenticator) login(username, password string) (string, error) {
	u, known := a.users[username]
	hash := a.dummy
	if known {
		hash = []byte(u.PasswordHash)
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(password))
	if !known || err != nil {
		return "", apiErr(http.StatusUnauthorized, CodeUnauthorized, "unknown user or wrong password")
	}
	now := a.now()
	c := claims{Role: u.Role, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: a.issuer, Subject: u.Username, Audience: jwt.ClaimStrings{a.audience},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(a.ttl)),
		ID: randomHex(8),
	}}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(a.secret)
	if err != nil {
		return "", fmt.Errorf("signing token: %w", err)
	}
	return tok, nil
}

// verify checks a token and returns its user with the role the users file
// gives now (a removed user's tokens stop working at once).
func (a *authenticator) verify(token string) (*principal, error) {
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return a.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(a.issuer), jwt.WithAudience(a.audience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(a.now), jwt.WithLeeway(5*time.Second))
	if err != nil {
		msg := "invalid token"
		if errors.Is(err, jwt.ErrTokenExpired) {
			msg = "token expired; get a new one from POST /api/v1/auth/token"
		}
		return nil, &APIError{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: msg, Err: err}
	}
	u, ok := a.users[c.Subject]
	if !ok {
		return nil, apiErr(http.StatusUnauthorized, CodeUnauthorized, "the token's user no longer exists")
	}
	return &principal{User: u.Username, Role: u.Role}, nil
}

// authenticate requires a valid bearer token and puts its principal in the context.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || tok == "" {
			s.writeError(w, r, apiErr(http.StatusUnauthorized, CodeUnauthorized, "missing bearer token: send Authorization: Bearer <token from POST /api/v1/auth/token>"))
			return
		}
		p, err := s.auth.verify(strings.TrimSpace(tok))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if lu, ok := r.Context().Value(keyLogUser).(*logUser); ok {
			lu.name = p.User
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyPrincipal, p)))
	})
}

// require lets only principals of at least role through.
func (s *Server) require(role Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := principalOf(r.Context())
			if p == nil || p.Role.rank() < role.rank() {
				have := "none"
				if p != nil {
					have = string(p.Role)
				}
				s.writeError(w, r, apiErr(http.StatusForbidden, CodeForbidden, "%s %s needs the %s role; you have %s", r.Method, r.URL.Path, role, have))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// tokenRequest is the body of POST /auth/token.
type tokenRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// TokenResponse is the answer of POST /auth/token.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

func (s *Server) postToken(w http.ResponseWriter, r *http.Request) error {
	ip := clientIP(r)
	if ok, wait := s.auth.limiter.allow(ip); !ok {
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
		return apiErr(http.StatusTooManyRequests, CodeRateLimited, "too many token requests from %s; retry in %s", ip, wait.Round(time.Second))
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var in tokenRequest
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	if in.Username == "" || in.Password == "" || len(in.Password) > 1024 {
		return fieldErr("username", "username and password are required")
	}
	tok, err := s.auth.login(in.Username, in.Password)
	if err != nil {
		s.log.Info("login refused", "request_id", requestID(r.Context()), "user", in.Username, "remote", ip)
		return err
	}
	writeJSON(w, http.StatusOK, TokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int(s.auth.ttl.Seconds())})
	return nil
}

// clientIP is the peer's address: X-Forwarded-For is not trusted (a
// client could pick a fresh address per request to escape the limit).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ipLimiter is a token bucket per client address, bounded in size.
type ipLimiter struct {
	mu      sync.Mutex
	limit   rate.Limit
	burst   int
	now     func() time.Time
	buckets map[string]*bucket
}

type bucket struct {
	l    *rate.Limiter
	seen time.Time
}

const maxBuckets = 10000

func newIPLimiter(l rate.Limit, burst int, now func() time.Time) *ipLimiter {
	return &ipLimiter{limit: l, burst: burst, now: now, buckets: map[string]*bucket{}}
}

// allow takes a token for ip, or reports how long until one is available.
func (l *ipLimiter) allow(ip string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[ip]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.prune(now)
		}
		b = &bucket{l: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[ip] = b
	}
	b.seen = now
	res := b.l.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// prune drops the buckets idle long enough to be full again; if the map is
// still full (many addresses at once), it drops arbitrary ones down to half.
func (l *ipLimiter) prune(now time.Time) {
	full := time.Duration(float64(l.burst)/float64(l.limit)*float64(time.Second)) + time.Second
	for ip, b := range l.buckets {
		if now.Sub(b.seen) > full {
			delete(l.buckets, ip)
		}
	}
	for ip := range l.buckets {
		if len(l.buckets) < maxBuckets/2 {
			break
		}
		delete(l.buckets, ip)
	}
}
